"""The connectivity matrix: which pod may open a connection to which, on which port.

Every ordered pair of distinct scheduled pods is judged for every port the destination
serves (:mod:`podnet.analyze.served`). Verdicts follow :mod:`podnet.control.policy`
exactly: the matching atoms are the same functions, evaluated once per equivalence
class (:mod:`podnet.analyze.classes`) instead of once per pod, with sets of classes as
bitsets. Per policy we precompute the classes it selects and per rule the classes its
peers match; then for each destination class and port, the allowed sources are

    (sources its ingress allows) AND (sources whose egress allows it)

where the second set is the classes not isolated for egress plus, for every egress rule
whose peers contain the destination and whose ports admit the port, the classes that
rule's policy selects. Pods without an IP (Pending) take part in no connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from podnet.analyze.classes import LabelIndex, PodClass, build_classes, ip_blocks
from podnet.analyze.served import served_ports_by_pod
from podnet.control.policy import PolicyEngine, Verdict
from podnet.control.policy_match import (
    EGRESS,
    INGRESS,
    applies,
    block_ranges,
    parse_ip,
    rule_ports_match,
)
from podnet.model.cluster import ClusterState
from podnet.model.objects import IPBlock, NetworkPolicy, Pod, PolicyPeer, PolicyRule
from podnet.model.selectors import LabelSelector

_SRC = "\x00src\x00"
_DST = "\x00dst\x00"


@dataclass(frozen=True)
class Connection:
    src: Pod
    dst: Pod
    port: int
    protocol: str
    allowed: bool
    reason: str


@dataclass(frozen=True)
class ClassPair:
    src: PodClass
    dst: PodClass
    port: int
    protocol: str
    allowed: bool


@dataclass(frozen=True)
class Matrix:
    """Verdicts per (source class, destination class, port); expands to pod pairs.

    ``allowed_from[(dst_class, port, protocol)]`` is the bitset of source classes allowed.
    """

    pods: tuple[Pod, ...]  # the pods judged, sorted by namespace/name
    classes: tuple[PodClass, ...]
    allowed_from: Mapping[tuple[int, int, str], int]
    engine: PolicyEngine
    class_of: Mapping[str, int]
    _reasons: dict[tuple[int, int, int, str], str] = field(default_factory=dict, repr=False)

    def is_allowed(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
        bits = self.allowed_from.get((self.class_of[dst.key], port, protocol), 0)
        return bool(bits >> self.class_of[src.key] & 1)

    def verdict(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> Verdict:
        """The engine's full verdict, computed once per class pair and renamed."""
        rep = self._class_verdict(self.class_of[src.key], self.class_of[dst.key], port, protocol)
        return rep.renamed(src.key, dst.key)

    def class_pairs(self) -> Iterator[ClassPair]:
        """Every (source class, destination class, served port), in class order."""
        for dst in self.classes:
            for port, proto in dst.ports:
                bits = self.allowed_from[(dst.index, port, proto)]
                for src in self.classes:
                    if src.index == dst.index and len(src.pods) == 1:
                        continue  # only the pod itself: no pair of distinct pods
                    yield ClassPair(src, dst, port, proto, bool(bits >> src.index & 1))

    def connections(self) -> Iterator[Connection]:
        """Every ordered pair of distinct pods x every port the destination serves."""
        for src in self.pods:
            si = self.class_of[src.key]
            for dst in self.pods:
                if dst is src:
                    continue
                di = self.class_of[dst.key]
                for port, proto in self.classes[di].ports:
                    ok = bool(self.allowed_from[(di, port, proto)] >> si & 1)
                    reason = self._reason(si, di, port, proto)
                    reason = reason.replace(_SRC, src.key).replace(_DST, dst.key)
                    yield Connection(src, dst, port, proto, ok, reason)

    def counts(self) -> tuple[int, int]:
        """(connections, allowed connections), by arithmetic over class sizes."""
        total = allowed = 0
        n = len(self.pods)
        for dst in self.classes:
            size = len(dst.pods)
            for port, proto in dst.ports:
                total += size * (n - 1)
                bits = self.allowed_from[(dst.index, port, proto)]
                for src in self.classes:
                    if bits >> src.index & 1:
                        allowed += len(src.pods) * size - (size if src is dst else 0)
        return total, allowed

    def _class_verdict(self, si: int, di: int, port: int, proto: str) -> Verdict:
        return self.engine.verdict(self.classes[si].rep, self.classes[di].rep, port, proto)

    def _reason(self, si: int, di: int, port: int, proto: str) -> str:
        key = (si, di, port, proto)
        got = self._reasons.get(key)
        if got is None:
            got = self._class_verdict(si, di, port, proto).renamed(_SRC, _DST).reason
            self._reasons[key] = got
        return got


def _bits(x: int) -> Iterator[int]:
    s = bin(x)[:1:-1]
    i = s.find("1")
    while i >= 0:
        yield i
        i = s.find("1", i + 1)


class _Bitsets:
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
        self.block: dict[IPBlock, int] = {}
        reps = [(c.index, parse_ip(c.rep.ip)) for c in classes if c.rep.ip is not None]
        for b in ip_blocks(policies):
            r = block_ranges(b)
            self.block[b] = sum(1 << i for i, ip in reps if r.contains(ip.version, int(ip)))

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
        """Bitset twin of :func:`podnet.control.policy_match.peer_matches`."""
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


def compute_matrix(state: ClusterState, pods: Sequence[Pod] | None = None) -> Matrix:
    """The matrix over ``pods`` (default: all of ``state``'s pods that have an IP)."""
    chosen = sorted(
        (p for p in (state.pods if pods is None else pods) if p.ip is not None),
        key=lambda p: (p.namespace, p.name),
    )
    policies = state.policies
    engine = PolicyEngine(state.namespaces, state.pods, policies)
    served = served_ports_by_pod(chosen, state.services)
    classes = build_classes(chosen, served, policies)
    bs = _Bitsets(classes, engine, policies)
    selected = {p.key: bs.selected(p) for p in policies}

    # Ingress: per destination class, the policies isolating it.
    ingress_pols = [p for p in policies if applies(p, INGRESS) and selected[p.key]]
    # Egress: the classes isolated, and each rule transposed to destination classes.
    egress_isolated = 0
    broad: list[tuple[int, PolicyRule]] = []
    by_dst: dict[int, list[tuple[int, PolicyRule]]] = {}
    for pol in policies:
        if not applies(pol, EGRESS) or not selected[pol.key]:
            continue
        egress_isolated |= selected[pol.key]
        for rule in pol.egress:
            peers = bs.rule_peers(rule, pol.namespace)
            entry = (selected[pol.key], rule)
            if peers == bs.all:
                broad.append(entry)
            else:
                for d in _bits(peers):
                    by_dst.setdefault(d, []).append(entry)
    not_egress_isolated = bs.all & ~egress_isolated

    allowed_from: dict[tuple[int, int, str], int] = {}
    for dst in classes:
        bit = 1 << dst.index
        isolating = [p for p in ingress_pols if selected[p.key] & bit]
        egress_rules = broad + by_dst.get(dst.index, [])
        for port, proto in dst.ports:
            if isolating:
                src = 0
                for pol in isolating:
                    for rule in pol.ingress:
                        if rule_ports_match(rule, port, proto, dst.rep):
                            src |= bs.rule_peers(rule, pol.namespace)
            else:
                src = bs.all
            eg = not_egress_isolated
            for sel, rule in egress_rules:
                if rule_ports_match(rule, port, proto, dst.rep):
                    eg |= sel
            allowed_from[(dst.index, port, proto)] = src & eg
    class_of = {p.key: c.index for c in classes for p in c.pods}
    return Matrix(tuple(chosen), classes, allowed_from, engine, class_of)
