"""Pod equivalence classes for the connectivity matrix, and selectors as bitsets.

Two pods are interchangeable for every NetworkPolicy verdict when they share the
namespace, the values of every label key some pod selector mentions, the ports they
serve, the numbers behind every named port a policy mentions, and - only when policies
contain ipBlocks - which ipBlocks contain their IP. The cluster admin's policies
(:mod:`podnet.model.clusterpolicy`) split classes the same way: their pod selectors'
label keys, their named ports (any protocol) and their ``networks`` CIDRs (which match
pod IPs); namespace selectors need nothing more, as classes never span namespaces. The
matrix then computes verdicts
per class (1,000s of pods from one Deployment become one class) and expands later.

Sets of classes are Python ints used as bitsets (bit i = class i): union, intersection
and complement are single big-int operations.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podnet.control.policy.match import block_ranges, parse_ip
from podnet.model.clusterpolicy import ClusterNetworkPolicy, ClusterPeer
from podnet.model.objects import PROTOCOLS, IPBlock, NetworkPolicy, Pod
from podnet.model.selectors import LabelSelector

Port = tuple[int, str]


@dataclass(frozen=True)
class PodClass:
    """Pods with identical policy-relevant attributes; ``rep`` stands for them all."""

    index: int
    namespace: str
    pods: tuple[Pod, ...]
    ports: tuple[Port, ...]

    @property
    def rep(self) -> Pod:
        return self.pods[0]


def _cluster_peers(policies: Sequence[ClusterNetworkPolicy]) -> list[ClusterPeer]:
    return [
        peer
        for pol in policies
        for peer in (pol.subject, *(p for r in (*pol.ingress, *pol.egress) for p in r.peers))
    ]


def _pod_selectors(
    policies: Sequence[NetworkPolicy], cluster: Sequence[ClusterNetworkPolicy] = ()
) -> list[LabelSelector]:
    out = []
    for pol in policies:
        out.append(pol.pod_selector)
        for rule in (*pol.ingress, *pol.egress):
            out.extend(p.pod_selector for p in rule.peers if p.pod_selector is not None)
    out.extend(p.pods.pod_selector for p in _cluster_peers(cluster) if p.pods is not None)
    return out


def relevant_label_keys(
    policies: Sequence[NetworkPolicy], cluster: Sequence[ClusterNetworkPolicy] = ()
) -> frozenset[str]:
    keys: set[str] = set()
    for s in _pod_selectors(policies, cluster):
        keys.update(k for k, _ in s.match_labels)
        keys.update(r.key for r in s.match_expressions)
    return frozenset(keys)


def referenced_port_names(
    policies: Sequence[NetworkPolicy], cluster: Sequence[ClusterNetworkPolicy] = ()
) -> tuple[tuple[str, str], ...]:
    """(name, protocol) of every named port; a cluster policy's for every protocol."""
    names: set[tuple[str, str]] = set()
    for pol in policies:
        for rule in (*pol.ingress, *pol.egress):
            names.update((p.port, p.protocol) for p in rule.ports if isinstance(p.port, str))
    for cpol in cluster:
        for crule in (*cpol.ingress, *cpol.egress):
            for cp in crule.ports:
                if cp.named_port is not None:
                    names.update((cp.named_port, proto) for proto in PROTOCOLS)
    return tuple(sorted(names))


def network_block(cidr: str) -> IPBlock:
    """A ``networks`` CIDR as an ipBlock without excepts (same containment test)."""
    return IPBlock(cidr)


def ip_blocks(
    policies: Sequence[NetworkPolicy], cluster: Sequence[ClusterNetworkPolicy] = ()
) -> tuple[IPBlock, ...]:
    blocks: dict[IPBlock, None] = {}
    for pol in policies:
        for rule in (*pol.ingress, *pol.egress):
            for peer in rule.peers:
                if peer.ip_block is not None:
                    blocks.setdefault(peer.ip_block, None)
    for cpeer in _cluster_peers(cluster):
        for cidr in cpeer.networks:
            blocks.setdefault(network_block(cidr), None)
    return tuple(blocks)


def block_members(blocks: Sequence[IPBlock], pods: Sequence[Pod]) -> dict[str, tuple[int, ...]]:
    """Pod key -> indices of the ``blocks`` containing its IP (ascending).

    Uses :meth:`BlockRanges.contains`, the engine's own test, but only on the pods whose
    address falls in the block's CIDR (found by bisection), so the cost follows the
    number of memberships rather than pods x blocks.
    """
    addrs = sorted(
        (ip.version, int(ip), p.key) for p in pods if p.ip is not None for ip in (parse_ip(p.ip),)
    )
    out: dict[str, list[int]] = {}
    for i, block in enumerate(blocks):
        r = block_ranges(block)
        start = bisect_left(addrs, (r.version, r.lo, ""))
        for version, value, key in addrs[start:]:
            if (version, value) > (r.version, r.hi):
                break
            if r.contains(version, value):
                out.setdefault(key, []).append(i)
    return {k: tuple(v) for k, v in out.items()}


def build_classes(
    pods: Sequence[Pod],
    served: Mapping[str, tuple[Port, ...]],
    policies: Sequence[NetworkPolicy],
    cluster: Sequence[ClusterNetworkPolicy] = (),
) -> tuple[PodClass, ...]:
    """Group ``pods`` (sorted by namespace/name first) into classes, in first-seen order."""
    keys = relevant_label_keys(policies, cluster)
    names = referenced_port_names(policies, cluster)
    member_of = block_members(ip_blocks(policies, cluster), pods)
    groups: dict[tuple[object, ...], list[Pod]] = {}
    for pod in sorted(pods, key=lambda p: (p.namespace, p.name)):
        labels = tuple(sorted((k, v) for k, v in pod.labels.items() if k in keys))
        named = tuple(pod.named_port(n, proto) for n, proto in names) if names else ()
        blocks = member_of.get(pod.key, ())
        key = (pod.namespace, labels, served.get(pod.key, ()), named, blocks)
        groups.setdefault(key, []).append(pod)
    return tuple(
        PodClass(i, members[0].namespace, tuple(members), served.get(members[0].key, ()))
        for i, members in enumerate(groups.values())
    )


class LabelIndex:
    """Evaluate label selectors over many label sets at once, as bitsets.

    Mirrors :meth:`LabelSelector.matches` exactly (apimachinery semantics: AND of all
    terms; NotIn and DoesNotExist match a missing key); a property test checks the
    two agree.
    """

    def __init__(self, label_sets: Sequence[Mapping[str, str]]) -> None:
        self.all = (1 << len(label_sets)) - 1
        self._pair: dict[tuple[str, str], int] = {}
        self._key: dict[str, int] = {}
        for i, labels in enumerate(label_sets):
            bit = 1 << i
            for k, v in labels.items():
                self._pair[(k, v)] = self._pair.get((k, v), 0) | bit
                self._key[k] = self._key.get(k, 0) | bit
        self._cache: dict[LabelSelector, int] = {}

    def bits(self, selector: LabelSelector) -> int:
        got = self._cache.get(selector)
        if got is None:
            got = self._cache[selector] = self._eval(selector)
        return got

    def _eval(self, selector: LabelSelector) -> int:
        acc = self.all
        for k, v in selector.match_labels:
            acc &= self._pair.get((k, v), 0)
        for req in selector.match_expressions:
            if req.operator in ("In", "NotIn"):
                hit = 0
                for v in req.values:
                    hit |= self._pair.get((req.key, v), 0)
                acc &= hit if req.operator == "In" else self.all & ~hit
            elif req.operator == "Exists":
                acc &= self._key.get(req.key, 0)
            elif req.operator == "DoesNotExist":
                acc &= self.all & ~self._key.get(req.key, 0)
            else:
                raise ValueError(f"unknown operator {req.operator!r}")
        return acc
