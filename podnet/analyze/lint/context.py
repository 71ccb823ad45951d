"""What every lint rule reads: the computed cluster, the policy engine, the DNS, indexes.

Built once per lint run so that rules stay small pure functions of it. Verdicts are
memoised per (source, destination, port, protocol): a 1,000-pod Deployment asks the
same question a thousand times otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.analyze.explain.dns import Lookup, QueryFn, cluster_query, lookup
from podnet.control.cluster import build_cluster
from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.match import IPAddress, parse_ip
from podnet.control.policy.verdict import Verdict
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import ClusterPeer
from podnet.model.objects import Manifests, Pod, Service


def owner_ref(pod: Pod) -> str:
    """``Kind/namespace/name`` of the object a finding about ``pod`` belongs to."""
    if pod.owner and "/" in pod.owner:
        kind, name = pod.owner.split("/", 1)
        return f"{kind}/{pod.namespace}/{name}"
    return f"Pod/{pod.namespace}/{pod.name}"


def field_prefix(pod: Pod) -> str:
    """Where the pod spec sits in the object that declared it."""
    if pod.owner:
        kind = pod.owner.split("/", 1)[0]
        return "spec.jobTemplate.spec.template." if kind == "CronJob" else "spec.template."
    return ""


@dataclass
class LintContext:
    state: ClusterState
    engine: PolicyEngine
    query: QueryFn
    pods_by_ip: dict[str, Pod] = field(default_factory=dict)
    services_by_ip: dict[str, Service] = field(default_factory=dict)
    pods_by_key: dict[str, Pod] = field(default_factory=dict)
    _verdicts: dict[tuple[str, str, int, str], Verdict] = field(default_factory=dict)
    _lookups: dict[tuple[str, str], Lookup] = field(default_factory=dict)
    peer_pods: dict[ClusterPeer, list[Pod]] = field(default_factory=dict)  # cluster.peer_pods
    _reps: list[Pod] | None = None

    _node_labels: dict[IPAddress, dict[str, str]] | None = None

    @property
    def node_labels(self) -> dict[IPAddress, dict[str, str]]:
        """Node address -> labels, for cluster policies' ``nodes`` peers."""
        if self._node_labels is None:
            self._node_labels = {parse_ip(n.address): n.labels for n in self.state.nodes}
        return self._node_labels

    def representatives(self) -> list[Pod]:
        """One pod per workload (all pods of a template are alike), plus bare pods."""
        if self._reps is not None:
            return self._reps
        seen: set[str] = set()
        out: list[Pod] = []
        for p in self.state.pods:
            ref = owner_ref(p)
            if ref not in seen:
                seen.add(ref)
                out.append(p)
        self._reps = out
        return out

    def verdict(self, src: Pod, dst: Pod | str, port: int, protocol: str) -> Verdict:
        dkey = dst if isinstance(dst, str) else dst.key
        key = (src.key, dkey, port, protocol)
        v = self._verdicts.get(key)
        if v is None:
            v = self.engine.verdict(src, dst, port, protocol)
            self._verdicts[key] = v
        return v

    def lookup(self, name: str, namespace: str) -> Lookup:
        key = (name.lower(), namespace)
        hit = self._lookups.get(key)
        if hit is None:
            hit = lookup(name.lower(), namespace, self.query)
            self._lookups[key] = hit
        return hit

    def pods_in(self, namespace: str) -> list[Pod]:
        return [p for p in self.state.pods if p.namespace == namespace]


def context_for_state(state: ClusterState) -> LintContext:
    engine = PolicyEngine.of_state(state)  # every tier: cluster policies and NetworkPolicies
    ctx = LintContext(state, engine, cluster_query(state))
    for p in state.pods:
        ctx.pods_by_key[p.key] = p
        if p.ip:
            ctx.pods_by_ip[p.ip] = p
    for s in state.services:
        if s.cluster_ip and not s.headless:
            ctx.services_by_ip[s.cluster_ip] = s
    return ctx


def build_context(manifests: Manifests, nodes: int = 1) -> LintContext:
    return context_for_state(build_cluster(manifests, nodes=nodes))
