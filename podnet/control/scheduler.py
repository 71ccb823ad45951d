"""Nodes, DaemonSet expansion and pod placement.

A deliberately small model of kube-scheduler (https://kubernetes.io/docs/concepts/
scheduling-eviction/assign-pod-node/): ``spec.nodeName`` binds a pod directly and skips
the scheduler; ``spec.nodeSelector`` filters nodes by label, and a pod no node satisfies
stays ``Pending`` (the scheduler reports ``FailedScheduling`` and retries forever).
Among feasible nodes we score "fewest pods first, then node order", a deterministic
stand-in for the default ``NodeResourcesBalancedAllocation`` / spreading scores.

DaemonSets (pkg/controller/daemon) create one pod per node whose labels match the
template's nodeSelector; the pod is bound to that node.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence

from podnet.errors import ClusterError
from podnet.model.cluster import NODE_CIDR, POD_CIDR, Node
from podnet.model.objects import Pod

HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
MAX_NODES = 250  # one /24 of 10.244.0.0/16 per node, and a node address in a /24

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
            out.append(dataclasses.replace(tpl, name=name, node_name=node.name))
    return tuple(out)


def schedule(pods: Sequence[Pod], nodes: Sequence[Node]) -> tuple[tuple[Pod, ...], tuple[str, ...]]:
    """Set ``Pod.node`` on every pod that can be placed; return pods and warnings.

    Pods are placed in sorted ``(namespace, name)`` order so the result depends only on
    the set of pods, not on file order. Bound pods (``nodeName``) are counted first, as
    they occupy their node before the scheduler looks at anything else.
    """
    by_name = {n.name: n for n in nodes}
    load = {n.name: 0 for n in nodes}
    placed: dict[str, str | None] = {}
    warnings: list[str] = []
    ordered = sorted(pods, key=lambda p: (p.namespace, p.name))
    for pod in ordered:
        if pod.node_name is not None:
            if pod.node_name not in by_name:
                raise ClusterError(
                    f"Pod/{pod.key}: spec.nodeName {pod.node_name!r} is not a node "
                    f"(nodes: {', '.join(by_name)})"
                )
            placed[pod.key] = pod.node_name
            load[pod.node_name] += 1
    for pod in ordered:
        if pod.node_name is not None:
            continue
        feasible = [n for n in nodes if _fits(pod, n)]
        if not feasible:
            sel = ",".join(f"{k}={v}" for k, v in sorted(pod.node_selector.items()))
            warnings.append(
                f"Pod/{pod.key} is Pending: 0/{len(nodes)} nodes match nodeSelector {sel}"
            )
            placed[pod.key] = None
            continue
        best = min(feasible, key=lambda n: load[n.name])  # min keeps node order on ties
        placed[pod.key] = best.name
        load[best.name] += 1
    return tuple(dataclasses.replace(p, node=placed[p.key]) for p in pods), tuple(warnings)
