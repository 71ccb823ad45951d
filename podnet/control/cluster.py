"""``build_cluster``: the whole control plane as one pure function.

Manifests in, :class:`ClusterState` out, the same every time (STYLE.md principle 6).
The order is the one a real cluster settles into: the API server adds the built-in
Services and the DNS add-on, the DaemonSet controller creates one pod per node, the
scheduler places pods, the CNI plugin (host-local IPAM) gives each placed pod an IP,
the Service allocators hand out ClusterIPs and NodePorts, and the EndpointSlice
controller matches pods to Services.

The live cluster continues from the returned state with
``PodIPAllocator.from_state(state)`` and :func:`podnet.control.endpoints.compute_endpoints`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from podnet.control.endpoints import compute_endpoints
from podnet.control.ipam import PodIPAllocator
from podnet.control.scheduler import expand_daemonsets, make_nodes, place
from podnet.control.services import add_defaults, assign_cluster_ips, assign_node_ports, dns_pod
from podnet.errors import ClusterError
from podnet.model.cluster import ClusterState, Node
from podnet.model.objects import Manifests, Namespace, Pod

BUILTIN_NAMESPACES = ("default", "kube-system")
NAME_LABEL = "kubernetes.io/metadata.name"


def _namespaces(given: Sequence[Namespace]) -> tuple[Namespace, ...]:
    """The given namespaces plus the built-in ones the API server always has."""
    names = {ns.name for ns in given}
    extra = tuple(
        Namespace(name=n, labels={NAME_LABEL: n}) for n in BUILTIN_NAMESPACES if n not in names
    )
    return (*given, *extra)


def _check_unique(pods: Sequence[Pod]) -> None:
    seen: set[str] = set()
    for pod in pods:
        if pod.key in seen:
            raise ClusterError(f"Pod/{pod.key} is defined twice")
        seen.add(pod.key)


def allocate_pod_ips(
    pods: Sequence[Pod], nodes: Mapping[str, str | None], allocator: PodIPAllocator
) -> dict[str, str]:
    """An IP for every pod placed on a node (``nodes``: pod key -> node), by pod key.

    Allocated in sorted ``(namespace, name)`` order, so the addresses are a function of
    the set of pods, not of file order. A pod that already carries an IP keeps it
    (reserved first, so nobody else gets it).
    """
    for pod in pods:
        node = nodes.get(pod.key)
        if pod.ip is not None and node is not None:
            allocator.reserve(pod.key, node, pod.ip)
    ips: dict[str, str] = {}
    for pod in sorted(pods, key=lambda p: (p.namespace, p.name)):
        node = nodes.get(pod.key)
        if node is not None:
            ips[pod.key] = pod.ip or allocator.allocate(pod.key, node)
    return ips


def build_cluster(
    manifests: Manifests,
    nodes: int = 1,
    ready: Mapping[str, bool] | None = None,
) -> ClusterState:
    """Schedule, allocate and compute endpoints for ``manifests`` on ``nodes`` nodes.

    ``ready`` (pod key -> readiness) is for callers that know real readiness; by
    default every running pod is ready. Raises :class:`ClusterError` when the objects do
    not fit together (unknown nodeName, IP/nodePort conflicts, exhausted ranges); pods
    with no node to go to (nodeSelector, 110 per node) are Pending, with a warning.
    """
    node_list: tuple[Node, ...] = make_nodes(nodes)
    services, pods = add_defaults(manifests.services, manifests.pods)
    pods = (*pods, *expand_daemonsets(manifests.daemonsets, node_list))
    _check_unique(pods)
    placement, warnings = place(pods, node_list, critical={dns_pod().key})
    ips = allocate_pod_ips(pods, placement, PodIPAllocator(node_list))
    with_ips = tuple(dataclasses.replace(p, node=placement[p.key], ip=ips.get(p.key)) for p in pods)
    services = assign_node_ports(assign_cluster_ips(services))
    return ClusterState(
        nodes=node_list,
        namespaces=_namespaces(manifests.namespaces),
        pods=with_ips,
        services=services,
        policies=manifests.policies,
        cluster_policies=manifests.cluster_policies,
        endpoints=compute_endpoints(services, with_ips, ready),
        warnings=(*manifests.warnings, *warnings),
    )


def user_pods(manifests: Manifests, state: ClusterState) -> list[Pod]:
    """The pods the user's manifests asked for, as scheduled in ``state``."""
    keys = {p.key for p in manifests.pods}
    owners = {(t.namespace, t.owner) for t in getattr(manifests, "daemonsets", ())}
    return [p for p in state.pods if p.key in keys or (p.namespace, p.owner) in owners]
