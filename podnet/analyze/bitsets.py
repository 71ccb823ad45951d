"""Sets of pod classes as bitsets: selectors, peers and policies over the classes.

Bit i of an int is class i (:mod:`podnet.analyze.classes`). Each method is the bitset
twin of one predicate in :mod:`podnet.control.policy.match`; the matrix property test
checks that they agree with the engine on random clusters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from podnet.analyze.classes import LabelIndex, PodClass, block_members, ip_blocks, network_block
from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.verdict import ClusterRuleRef
from podnet.model.clusterpolicy import ClusterNetworkPolicy, ClusterPeer
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
        self,
        classes: Sequence[PodClass],
        engine: PolicyEngine,
        policies: Sequence[NetworkPolicy],
        cluster: Sequence[ClusterNetworkPolicy] = (),
    ) -> None:
        self.index = LabelIndex([c.rep.labels for c in classes])
        self.all = self.index.all
        self.ns_bits: dict[str, int] = {}
        for c in classes:
            self.ns_bits[c.namespace] = self.ns_bits.get(c.namespace, 0) | 1 << c.index
        self._ns_labels = {ns: engine.namespace_labels(ns) for ns in self.ns_bits}
        self._ns_sel: dict[LabelSelector, int] = {}
        class_of_rep = {c.rep.key: c.index for c in classes}
        self.block: dict[IPBlock, int] = {b: 0 for b in ip_blocks(policies, cluster)}
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

    def cluster_peer(self, peer: ClusterPeer) -> int:
        """Bitset twin of :func:`podnet.control.policy.tiers.peer_matches` for pods
        (``nodes`` never matches a pod)."""
        if peer.networks:
            acc = 0
            for cidr in peer.networks:
                acc |= self.block[network_block(cidr)]
            return acc
        if peer.namespaces is not None:
            return self.namespaces(peer.namespaces)
        if peer.pods is not None:
            return self.namespaces(peer.pods.namespace_selector) & self.index.bits(
                peer.pods.pod_selector
            )
        return 0

    def cluster_peers(self, peers: Sequence[ClusterPeer]) -> int:
        acc = 0
        for p in peers:
            acc |= self.cluster_peer(p)
        return acc


# One policy of a tier at one cell: its rules that match there, in written order, each
# with the classes at the other end (or the subjects, for egress) it matches.
PolicyHits = list[tuple[ClusterRuleRef, int]]


@dataclass
class TierBits:
    """A tier's outcome over classes: who each rule decided, who it left (``rest``).

    ``decided`` holds disjoint (rule, classes) in evaluation order; ``conflicts``
    (rule, classes) where an equal-priority policy's first match had another action.
    """

    decided: list[tuple[ClusterRuleRef, int]] = field(default_factory=list)
    conflicts: list[tuple[ClusterRuleRef, int]] = field(default_factory=list)
    rest: int = 0

    def of_action(self, action: str) -> int:
        acc = 0
        for ref, bits in self.decided:
            if ref.action == action:
                acc |= bits
        return acc


def tier_bits(policies: Sequence[PolicyHits], everyone: int) -> TierBits:
    """Bitset twin of :func:`podnet.control.policy.tiers.first_match` for many classes.

    ``policies`` in tier order (their rules' refs carry the priority). Per policy, the
    first matching rule per class; the first policy with one decides; later policies of
    the same priority whose first match has another action are recorded as conflicts.
    """
    out = TierBits(rest=everyone)
    policies = [hits for hits in policies if hits]  # no match here: cannot decide
    i = 0
    while i < len(policies):
        j = i
        prio = _priority(policies[i])
        while j < len(policies) and _priority(policies[j]) == prio:
            j += 1
        firsts: list[list[tuple[ClusterRuleRef, int]]] = []
        for hits in policies[i:j]:
            rem, got = everyone, []
            for ref, bits in hits:
                h = rem & bits
                if h:
                    got.append((ref, h))
                    rem &= ~h
            firsts.append(got)
        for k, got in enumerate(firsts):
            for ref, h in got:
                won = out.rest & h
                if not won:
                    continue
                out.decided.append((ref, won))
                for later in firsts[k + 1 :]:
                    for other, oh in later:
                        c = won & oh
                        if c and other.action != ref.action:
                            out.conflicts.append((other, c))
            for _, h in got:
                out.rest &= ~h
        i = j
    return out


def _priority(hits: PolicyHits) -> int:
    return hits[0][0].priority
