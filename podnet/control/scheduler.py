"""Nodes, DaemonSet expansion and pod placement.

A deliberately small model of kube-scheduler (https://kubernetes.io/docs/concepts/
scheduling-eviction/assign-pod-node/): ``spec.nodeName`` binds a pod directly and skips
the scheduler; ``spec.nodeSelector`` filters nodes by label, and a pod no node satisfies
stays ``Pending`` (the scheduler reports ``FailedScheduling`` and retries forever).
Among feasible nodes we score "fewest pods first, then node order", a deterministic
stand-in for the default ``NodeResourcesBalancedAllocation`` / spreading scores.

A node holds at most 110 pods, kubelet's default ``--max-pods`` (the node's allocatable
``pods``, which the scheduler's NodeResourcesFit filter checks); the rest stay Pending.
A pod bound by ``nodeName`` to a full node is refused by kubelet admission (OutOfpods)
and runs nowhere either. Critical pods (the cluster DNS, priority
system-cluster-critical) are placed first, as the PrioritySort queue pops them first.

DaemonSets (pkg/controller/daemon) create one pod per node whose labels match the
template's nodeSelector; the pod is bound to that node.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import ipaddress
from collections.abc import Collection, Iterable, Sequence

from podnet.errors import ClusterError
from podnet.model.cluster import NODE_CIDR, POD_CIDR, Node
from podnet.model.objects import Pod

HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
MAX_NODES = 250  # one /24 of 10.244.0.0/16 per node, and a node address in a /24
MAX_PODS = 110  # kubelet's default --max-pods: 110 < the 253 addresses of a node's /24

# apimachinery/pkg/util/rand: the alphabet of generated name suffixes (no vowels,
# no look-alike characters).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def make_nodes(count: int) -> tuple[Node, ...]:
    """``node-0 .. node-{count-1}``: node i owns 10.244.i.0/24 and 172.18.0.(i+2)."""
    if count < 1 or count > MAX_NODES:
        raise ClusterError(f"node count must be between 1 and {MAX_NODES}, got {count}")
    pod_net = ipaddress.ip_network(POD_CIDR)
    node_net = ipaddress.ip_network(NODE_CIDR)
    nodes = []
    for i in range(count):
        name = f"node-{i}"
        cidr = ipaddress.ip_network((int(pod_net.network_address) + (i << 8), 24))
        nodes.append(
            Node(
                name=name,
                labels={HOSTNAME_LABEL: name, OS_LABEL: "linux"},
                pod_cidr=str(cidr),
                address=str(node_net.network_address + i + 2),
            )
        )
    return tuple(nodes)


def name_suffix(*parts: str) -> str:
    """A deterministic 5-character suffix in the style of ``generateName``."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:5])


def _fits(pod: Pod, node: Node) -> bool:
    return all(node.labels.get(k) == v for k, v in pod.node_selector.items())


def expand_daemonsets(templates: Iterable[Pod], nodes: Sequence[Node]) -> tuple[Pod, ...]:
    """One pod per (template, matching node), named ``<daemonset>-<5 chars>``."""
    out: list[Pod] = []
    for tpl in templates:
        for node in nodes:
            if not _fits(tpl, node):
                continue
            name = f"{tpl.name}-{name_suffix(tpl.namespace, tpl.name, node.name)}"
            meta = dataclasses.replace(tpl.meta, name=name) if tpl.meta else None
            out.append(dataclasses.replace(tpl, name=name, node_name=node.name, meta=meta))
    return tuple(out)


def place(
    pods: Sequence[Pod], nodes: Sequence[Node], critical: Collection[str] = ()
) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """Decide a node (or ``None`` = Pending) for every pod: ``pod key -> node name``.

    Pods are placed in sorted ``(namespace, name)`` order, the ``critical`` keys first,
    so the result depends only on the set of pods, not on file order. Bound pods
    (``nodeName``) are counted first, as they occupy their node before the scheduler
    looks at anything else. Feasible nodes are computed once per distinct nodeSelector
    and kept in a heap of ``(load, node index)``; loads only grow, so a stale entry is
    refreshed when it reaches the top, and a full node at the top means all are full.
    """
    by_name = {n.name: n for n in nodes}
    index = {n.name: i for i, n in enumerate(nodes)}
    load = [0] * len(nodes)
    placed: dict[str, str | None] = {}
    warnings: list[str] = []
    full: list[str] = []  # pods Pending for want of room
    ordered = sorted(pods, key=lambda p: (p.key not in critical, p.namespace, p.name))
    for pod in ordered:
        if pod.node_name is not None:
            if pod.node_name not in by_name:
                raise ClusterError(
                    f"Pod/{pod.key}: spec.nodeName {pod.node_name!r} is not a node "
                    f"(nodes: {', '.join(by_name)})"
                )
            if load[index[pod.node_name]] >= MAX_PODS:
                placed[pod.key] = None
                full.append(pod.key)
                continue
            placed[pod.key] = pod.node_name
            load[index[pod.node_name]] += 1
    heaps: dict[frozenset[tuple[str, str]], list[tuple[int, int]]] = {}
    for pod in ordered:
        if pod.node_name is not None:
            continue
        sel = frozenset(pod.node_selector.items())
        heap = heaps.get(sel)
        if heap is None:
            heap = [(load[i], i) for i, n in enumerate(nodes) if _fits(pod, n)]
            heapq.heapify(heap)
            heaps[sel] = heap
        if not heap:
            text = ",".join(f"{k}={v}" for k, v in sorted(pod.node_selector.items()))
            warnings.append(
                f"Pod/{pod.key} is Pending: 0/{len(nodes)} nodes match nodeSelector {text}"
            )
            placed[pod.key] = None
            continue
        while heap[0][0] != load[heap[0][1]]:  # refresh stale loads
            _, i = heapq.heappop(heap)
            heapq.heappush(heap, (load[i], i))
        if heap[0][0] >= MAX_PODS:
            placed[pod.key] = None
            full.append(pod.key)
            continue
        _, best = heapq.heappop(heap)  # least loaded, then lowest node index
        load[best] += 1
        heapq.heappush(heap, (load[best], best))
        placed[pod.key] = nodes[best].name
    if full:
        warnings.append(_full_warning(full, len(nodes)))
    return placed, tuple(warnings)


def _full_warning(keys: Sequence[str], nodes: int, shown: int = 5) -> str:
    names = ", ".join(keys[:shown]) + (
        f" and {len(keys) - shown} more" if len(keys) > shown else ""
    )
    return (
        f"{len(keys)} pod(s) Pending, no IP, in no connection: no room on their nodes "
        f"({MAX_PODS} pods per node, kubelet's default --max-pods; {nodes} node(s)): "
        f"{names}; --nodes adds room"
    )


def schedule(pods: Sequence[Pod], nodes: Sequence[Node]) -> tuple[tuple[Pod, ...], tuple[str, ...]]:
    """:func:`place`, returning the pods with ``node`` set, and the warnings."""
    placed, warnings = place(pods, nodes)
    return tuple(dataclasses.replace(p, node=placed[p.key]) for p in pods), warnings
