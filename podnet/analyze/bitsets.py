"""Sets of pod classes as bitsets: selectors, peers and policies over the classes.

Bit i of an int is class i (:mod:`podnet.analyze.classes`). Each method is the bitset
twin of one predicate in :mod:`podnet.control.policy.match`; the matrix property test
checks that they agree with the engine on random clusters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from podnet.analyze.classes import LabelIndex, PodClass, block_members, ip_blocks
from podnet.control.policy.engine import PolicyEngine
from podnet.model.objects import IPBlock, NetworkPolicy, PolicyPeer, PolicyRule
from podnet.model.selectors import LabelSelector


def iter_bits(x: int) -> Iterator[int]:
    s = bin(x)[:1:-1]
    i = s.find("1")
    while i >= 0:
        yield i
        i = s.find("1", i + 1)


class ClassSets:
    """Selectors, peers and policies evaluated over the classes, memoised."""

    def __init__(
        self, classes: Sequence[PodClass], engine: PolicyEngine, policies: Sequence[NetworkPolicy]
    ) -> None:
        self.index = LabelIndex([c.rep.labels for c in classes])
        self.all = self.index.all
        self.ns_bits: dict[str, int] = {}
        for c in classes:
            self.ns_bits[c.namespace] = self.ns_bits.get(c.namespace, 0) | 1 << c.index
        self._ns_labels = {ns: engine.namespace_labels(ns) for ns in self.ns_bits}
        self._ns_sel: dict[LabelSelector, int] = {}
        class_of_rep = {c.rep.key: c.index for c in classes}
        self.block: dict[IPBlock, int] = {b: 0 for b in ip_blocks(policies)}
        blocks = list(self.block)
        reps = [c.rep for c in classes]
        for key, indices in block_members(blocks, reps).items():
            bit = 1 << class_of_rep[key]
            for i in indices:
                self.block[blocks[i]] |= bit

    def namespaces(self, selector: LabelSelector) -> int:
        got = self._ns_sel.get(selector)
        if got is None:
            got = 0
            for ns, labels in self._ns_labels.items():
                if selector.matches(labels):
                    got |= self.ns_bits[ns]
            self._ns_sel[selector] = got
        return got

    def peer(self, peer: PolicyPeer, policy_ns: str) -> int:
        """Bitset twin of :func:`podnet.control.policy.match.peer_matches`."""
        if peer.ip_block is not None:
            return self.block[peer.ip_block]
        if peer.pod_selector is None and peer.namespace_selector is None:
            return 0
        if peer.namespace_selector is None:
            acc = self.ns_bits.get(policy_ns, 0)
        else:
            acc = self.namespaces(peer.namespace_selector)
        if peer.pod_selector is not None:
            acc &= self.index.bits(peer.pod_selector)
        return acc

    def rule_peers(self, rule: PolicyRule, policy_ns: str) -> int:
        if not rule.peers:
            return self.all
        acc = 0
        for p in rule.peers:
            acc |= self.peer(p, policy_ns)
        return acc

    def selected(self, policy: NetworkPolicy) -> int:
        return self.ns_bits.get(policy.namespace, 0) & self.index.bits(policy.pod_selector)
