"""What ``podnet run`` expects of its documents, from the pure engine (no I/O).

The live pods are made by the controllers and the kubelet (:mod:`podnet.live.core.core`),
with the names a real cluster gives them; the run still needs to know, before they
exist, which objects make servers (started first) and which clients (waited for), and
how many pods of each to expect. :func:`build_cluster` answers that from the same
manifests, with the same scheduling functions the scheduler controller uses; each live
pod is then matched to its plan entry by its key (bare pods, StatefulSet pods, the DNS
pod) or by the object at the top of its owners.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.control.served import served_ports
from podnet.live.runout.summary import image_group, role
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests, Pod

Owner = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True)
class Kind:
    """What a pod of one owner is to the run."""

    served: bool  # serves a port: started before the clients, not waited for
    role: str  # client | server (summary.role): what its output is
    group: str  # its image's short name (summary.image_group)


@dataclass
class Plan:
    state: ClusterState
    by_key: dict[str, Kind] = field(default_factory=dict)
    by_owner: dict[Owner, Kind] = field(default_factory=dict)
    owner_of: dict[str, Owner] = field(default_factory=dict)  # predicted key -> owner
    servers: int = 0  # scheduled pods that serve a port (the DNS pod among them)
    clients: int = 0  # scheduled pods that do not: the run waits for their first exit
    pending: list[Pod] = field(default_factory=list)

    @classmethod
    def of(cls, manifests: Manifests, state: ClusterState) -> Plan:
        plan = cls(state)
        for pod in state.pods:
            kind = Kind(
                bool(served_ports(pod, state.services)), role(pod, state.services), image_group(pod)
            )
            owner = owner_of(pod)
            plan.by_key[pod.key] = kind
            plan.by_owner.setdefault(owner, kind)
            plan.owner_of[pod.key] = owner
            if pod.ip is None:
                plan.pending.append(pod)
            elif kind.served:
                plan.servers += 1
            else:
                plan.clients += 1
        return plan

    def served(self, owner: Owner) -> bool | None:
        """Whether ``owner``'s pods serve a port (None: it makes no pod the plan knows)."""
        kind = self.by_owner.get(owner)
        return None if kind is None else kind.served

    def kind(self, key: str, owner: Owner) -> Kind | None:
        return self.by_key.get(key) or self.by_owner.get(owner)


def owner_of(pod: Pod) -> Owner:
    """A predicted pod's owner: ``owner`` is ``Kind/name`` of its workload."""
    if pod.owner:
        kind, _, name = pod.owner.partition("/")
        return (kind, pod.namespace, name)
    return ("Pod", pod.namespace, pod.name)
