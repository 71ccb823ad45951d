"""The connectivity matrix: which pod may open a connection to which, on which port.

Every ordered pair of distinct scheduled pods is judged for every port the destination
serves (:mod:`podnet.control.served`). Verdicts follow :mod:`podnet.control.policy.engine`
exactly: the matching atoms are the same functions, evaluated once per equivalence
class (:mod:`podnet.analyze.classes`) instead of once per pod, with sets of classes as
bitsets. Per policy we precompute the classes it selects and per rule the classes its
peers match; then for each destination class and port, the allowed sources are

    (sources its ingress allows) AND (sources whose egress allows it)

where the second set is the classes not isolated for egress plus, for every egress rule
whose peers contain the destination and whose ports admit the port, the classes that
rule's policy selects. Pods without an IP (Pending) take part in no connection.

The cluster admin's tiers wrap that per direction, as the engine does: per cell, the
Admin tier's first matches over the classes at the other end
(:func:`podnet.analyze.bitsets.tier_bits`) decide Accept/Deny; the classes it passes or
leaves go to NetworkPolicy when isolated, else to the Baseline tier, else are allowed.
Verdicts are rebuilt with the engine's own :func:`podnet.control.policy.tiers.layered`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from podnet.analyze.bitsets import ClassSets, PolicyHits, TierBits, iter_bits, tier_bits
from podnet.analyze.classes import (
    PodClass,
    build_classes,
    referenced_port_names,
)
from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.match import (
    EGRESS,
    INGRESS,
    applies,
    rule_ports_match,
)
from podnet.control.policy.tiers import TierMatch, layered, rule_ref, tier_order
from podnet.control.policy.tiers import rule_ports_match as cluster_ports_match
from podnet.control.policy.verdict import ClusterRuleRef, DirectionVerdict, RuleRef, Verdict
from podnet.control.served import served_ports_by_pod
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import (
    ACCEPT,
    ADMIN,
    BASELINE,
    DENY,
    PASS,
    ClusterNetworkPolicy,
    ClusterRule,
)
from podnet.model.objects import NetworkPolicy, Pod, PolicyRule

_SRC = "\x00src\x00"
_DST = "\x00dst\x00"


class Connection(NamedTuple):
    """One judged connection (a tuple: millions of these are made for big clusters)."""

    src: Pod
    dst: Pod
    port: int
    protocol: str
    allowed: bool
    reason: str


@dataclass
class _Tables:
    """What the matrix keeps besides ``allowed_from``, to explain any cell cheaply.

    Per (destination class, port, protocol): the ingress rules admitting the port with
    the source classes their peers match, and - as a bitset over ``egress_table`` - the
    egress rules (of any policy) whose peers contain the destination and admit the port;
    ``egress_table[j]`` holds rule j's reference and the classes its policy selects.
    Per class: the policies isolating it for ingress and for egress (ns/name order).
    """

    not_egress_isolated: int
    allowed_from: dict[tuple[int, int, str], int] = field(default_factory=dict)
    ingress_rules: dict[tuple[int, int, str], tuple[tuple[RuleRef, int], ...]] = field(
        default_factory=dict
    )
    egress_table: tuple[tuple[RuleRef, int, PolicyRule], ...] = ()  # j -> rule, sources
    egress_rules: dict[tuple[int, int, str], int] = field(default_factory=dict)  # bits of j
    ingress_iso: list[tuple[str, ...]] = field(default_factory=list)
    egress_iso: list[tuple[str, ...]] = field(default_factory=list)
    # per cell, with cluster policies: Admin ingress, Baseline ingress, Admin egress,
    # Baseline egress outcomes over source classes
    tiers: dict[tuple[int, int, str], tuple[TierBits, TierBits, TierBits, TierBits]] = field(
        default_factory=dict
    )


def _match(tb: TierBits, si: int) -> TierMatch | None:
    """The tier's first match for source class ``si`` (what the engine's would be)."""
    for ref, bits in tb.decided:
        if bits >> si & 1:
            return TierMatch(ref, tuple(r for r, b in tb.conflicts if b >> si & 1))
    return None


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
    tables: _Tables = field(repr=False)
    _reasons: dict[tuple[object, ...], str] = field(default_factory=dict, repr=False)
    cluster_policies: tuple[ClusterNetworkPolicy, ...] = ()  # the tiers judged, all

    def is_allowed(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
        bits = self.allowed_from.get((self.class_of[dst.key], port, protocol), 0)
        return bool(bits >> self.class_of[src.key] & 1)

    def verdict(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> Verdict:
        """The engine's verdict (same fields, same reason) from the precomputed tables."""
        si, di = self.class_of[src.key], self.class_of[dst.key]
        eg, ing = self._directions(si, di, port, protocol, src.key, dst.key)
        return Verdict.of(eg, ing)

    def connections(self) -> Iterator[Connection]:
        """Every ordered pair of distinct pods x every port the destination serves.

        Sorted by source, destination, then port. Work is per class pair: the pods of
        one source class share one row of verdicts and reason templates.
        """
        rows: dict[int, list[list[tuple[int, str, bool, str]]]] = {}
        keys = [p.key for p in self.pods]
        members = [(p, k, self.class_of[k]) for p, k in zip(self.pods, keys, strict=True)]
        for src, skey, si in members:
            row = rows.get(si)
            if row is None:
                row = rows[si] = [
                    [
                        (
                            port,
                            proto,
                            bool(self.allowed_from[(c.index, port, proto)] >> si & 1),
                            self._reason(si, c.index, port, proto),
                        )
                        for port, proto in c.ports
                    ]
                    for c in self.classes
                ]
            for dst, dkey, di in members:
                if dst is src:
                    continue
                for port, proto, ok, reason in row[di]:
                    text = reason.replace(_SRC, skey).replace(_DST, dkey)
                    yield Connection(src, dst, port, proto, ok, text)

    def counts(self) -> tuple[int, int]:
        """(connections, allowed connections), by arithmetic over class sizes."""
        by_size: dict[int, int] = {}
        for c in self.classes:
            by_size[len(c.pods)] = by_size.get(len(c.pods), 0) | 1 << c.index
        total = allowed = 0
        n = len(self.pods)
        for dst in self.classes:
            size = len(dst.pods)
            for port, proto in dst.ports:
                total += size * (n - 1)
                bits = self.allowed_from[(dst.index, port, proto)]
                sources = sum(k * (bits & mask).bit_count() for k, mask in by_size.items())
                allowed += sources * size - (size if bits >> dst.index & 1 else 0)
        return total, allowed

    def _directions(
        self, si: int, di: int, port: int, proto: str, src: str, dst: str
    ) -> tuple[DirectionVerdict, DirectionVerdict]:
        t = self.tables
        key = (di, port, proto)
        eg_iso, in_iso = t.egress_iso[si], t.ingress_iso[di]
        eg_by = self._egress_refs(key, si)
        in_by = tuple(r for r, peers in t.ingress_rules.get(key, ()) if peers >> si & 1)
        eg = DirectionVerdict(
            EGRESS,
            bool(eg_iso),
            eg_iso,
            eg_by if eg_iso else (),
            bool(eg_by) or not eg_iso,
            src,
            dst,
            port,
            proto,
        )
        ing = DirectionVerdict(
            INGRESS,
            bool(in_iso),
            in_iso,
            in_by if in_iso else (),
            bool(in_by) or not in_iso,
            dst,
            src,
            port,
            proto,
        )
        tiers = t.tiers.get(key)
        if tiers is not None:
            ai, bi, ae, be = tiers
            ing = layered(ing, _match(ai, si), _match(bi, si))
            eg = layered(eg, _match(ae, si), _match(be, si))
        return eg, ing

    def _egress_refs(self, key: tuple[int, int, str], si: int) -> tuple[RuleRef, ...]:
        """Egress rules of the source's policies admitting this cell, in engine order."""
        t = self.tables
        rules = t.egress_table
        return tuple(
            rules[j][0] for j in iter_bits(t.egress_rules.get(key, 0)) if rules[j][1] >> si & 1
        )

    def _reason(self, si: int, di: int, port: int, proto: str) -> str:
        t = self.tables
        key = (di, port, proto)
        eg_iso, in_iso = t.egress_iso[si], t.ingress_iso[di]
        memo = (
            eg_iso,
            in_iso,
            self._egress_refs(key, si) if eg_iso else (),
            tuple(r for r, p in t.ingress_rules.get(key, ()) if p >> si & 1) if in_iso else (),
            port,
            proto,
            tuple(_match(tb, si) for tb in t.tiers.get(key, ())),
        )
        got = self._reasons.get(memo)
        if got is None:
            got = Verdict.of(*self._directions(si, di, port, proto, _SRC, _DST)).reason
            self._reasons[memo] = got
        return got


def compute_matrix(state: ClusterState, pods: Sequence[Pod] | None = None) -> Matrix:
    """The matrix over ``pods`` (default: all of ``state``'s pods that have an IP)."""
    chosen = sorted(
        (p for p in (state.pods if pods is None else pods) if p.ip is not None),
        key=lambda p: (p.namespace, p.name),
    )
    # The engine's order: policies by namespace, then name; rules by index.
    policies = sorted(state.policies, key=lambda p: (p.namespace, p.name))
    engine = PolicyEngine(
        state.namespaces,
        state.pods,
        policies,
        cluster_policies=state.cluster_policies,
        cluster_nodes=state.nodes,
    )
    cluster = state.cluster_policies
    served = served_ports_by_pod(chosen, state.services)
    classes = build_classes(chosen, served, policies, cluster)
    bs = ClassSets(classes, engine, policies, cluster)
    cells = _ClusterCells(bs, cluster) if cluster else None
    selected = {p.key: bs.selected(p) for p in policies}
    ingress_pols = [p for p in policies if applies(p, INGRESS) and selected[p.key]]
    egress_pols = [p for p in policies if applies(p, EGRESS) and selected[p.key]]

    # Egress rules, numbered j in engine order (policy ns/name, rule index). Per
    # destination class, the bitset of rules whose peers contain it ("transposed").
    table_rules: list[tuple[RuleRef, int, PolicyRule]] = []
    broad = 0
    rules_at: dict[int, int] = {}
    egress_isolated = 0
    for pol in egress_pols:
        egress_isolated |= selected[pol.key]
        for i, rule in enumerate(pol.egress):
            j = len(table_rules)
            table_rules.append((RuleRef(pol.key, EGRESS, i), selected[pol.key], rule))
            peers = bs.rule_peers(rule, pol.namespace)
            if peers == bs.all:
                broad |= 1 << j
            else:
                for d in iter_bits(peers):
                    rules_at[d] = rules_at.get(d, 0) | 1 << j
    in_peers = {
        pol.key: [bs.rule_peers(r, pol.namespace) for r in pol.ingress] for pol in ingress_pols
    }

    table = _Tables(bs.all & ~egress_isolated, egress_table=tuple(table_rules))
    isolating: list[list[NetworkPolicy]] = [[] for _ in classes]
    egress_iso: list[list[str]] = [[] for _ in classes]
    for pol in ingress_pols:
        for c in iter_bits(selected[pol.key]):
            isolating[c].append(pol)
    for pol in egress_pols:
        for c in iter_bits(selected[pol.key]):
            egress_iso[c].append(pol.key)
    table.ingress_iso = [tuple(p.key for p in pols) for pols in isolating]
    table.egress_iso = [tuple(keys) for keys in egress_iso]

    # Whether a rule admits a port depends on the destination only through the numbers
    # behind the port names policies use: classes with the same names share the work.
    names = referenced_port_names(policies)
    admits: dict[tuple[object, ...], int] = {}  # (names profile, port, proto) -> rules
    unions: dict[int, int] = {0: 0}  # set of egress rules -> union of their sources
    for dst in classes:
        profile = tuple(dst.rep.named_port(n, proto) for n, proto in names)
        candidates = broad | rules_at.get(dst.index, 0)
        for port, proto in dst.ports:
            key = (dst.index, port, proto)
            ing = tuple(
                (RuleRef(pol.key, INGRESS, i), in_peers[pol.key][i])
                for pol in isolating[dst.index]
                for i, rule in enumerate(pol.ingress)
                if rule_ports_match(rule, port, proto, dst.rep)
            )
            akey = (profile, port, proto)
            admitted = admits.get(akey)
            if admitted is None:
                admitted = 0
                for j, (_, _, rule) in enumerate(table_rules):
                    if rule_ports_match(rule, port, proto, dst.rep):
                        admitted |= 1 << j
                admits[akey] = admitted
            matching = candidates & admitted
            union = unions.get(matching)
            if union is None:
                union = 0
                for j in iter_bits(matching):
                    union |= table_rules[j][1]
                unions[matching] = union
            src = bs.all
            if isolating[dst.index]:
                src = 0
                for _, peers in ing:
                    src |= peers
            if cells is None:
                table.allowed_from[key] = src & (table.not_egress_isolated | union)
            else:
                tiers = cells.at(dst, port, proto)
                table.tiers[key] = tiers
                table.allowed_from[key] = _tiered(
                    tiers, bs.all, bool(isolating[dst.index]), src, table.not_egress_isolated, union
                )
            table.ingress_rules[key] = ing
            table.egress_rules[key] = matching
    class_of = {p.key: c.index for c in classes for p in c.pods}
    return Matrix(
        tuple(chosen),
        classes,
        table.allowed_from,
        engine,
        class_of,
        table,
        cluster_policies=state.cluster_policies,
    )


def _tiered(
    tiers: tuple[TierBits, TierBits, TierBits, TierBits],
    everyone: int,
    ingress_isolated: bool,
    np_in: int,
    not_egress_isolated: int,
    egress_union: int,
) -> int:
    """Allowed sources of one cell through the tiers (see the module docstring)."""
    ai, bi, ae, be = tiers
    to_np = ai.rest | ai.of_action(PASS)
    below = np_in if ingress_isolated else everyone & ~bi.of_action(DENY)
    ingress = ai.of_action(ACCEPT) | (to_np & below)
    to_np = ae.rest | ae.of_action(PASS)
    isolated = everyone & ~not_egress_isolated
    below = (isolated & egress_union) | (not_egress_isolated & ~be.of_action(DENY))
    egress = ae.of_action(ACCEPT) | (to_np & below)
    return ingress & egress & everyone


@dataclass(frozen=True)
class _CellRule:
    """One cluster rule, indexed once: its reference, peers as classes, port test."""

    ref: ClusterRuleRef
    peers: int
    rule: ClusterRule
    named: bool  # has a named port: the answer depends on the destination pod


class _ClusterCells:
    """The cluster policies over the classes: subjects and rule peers as bitsets.

    Per tier and direction, the policies in order with their subject classes and rules;
    whether a rule admits a port is memoised unless it names a port.
    """

    def __init__(self, bs: ClassSets, cluster: tuple[ClusterNetworkPolicy, ...]) -> None:
        self.all = bs.all
        self.pols: dict[tuple[str, str], list[tuple[int, list[_CellRule]]]] = {}
        for tier in (ADMIN, BASELINE):
            for direction in (INGRESS, EGRESS):
                entries = []
                for pol in tier_order(cluster, tier):
                    rules = pol.ingress if direction == INGRESS else pol.egress
                    subject = bs.cluster_peer(pol.subject)
                    if not rules or not subject:
                        continue  # can match nothing, so neither decide nor conflict
                    entries.append(
                        (
                            subject,
                            [
                                _CellRule(
                                    rule_ref(pol, direction, i),
                                    bs.cluster_peers(r.peers),
                                    r,
                                    any(p.named_port is not None for p in r.ports),
                                )
                                for i, r in enumerate(rules)
                            ],
                        )
                    )
                self.pols[(tier, direction)] = entries
        self._admits: dict[tuple[int, int, str], bool] = {}

    def _admits_port(self, r: _CellRule, port: int, proto: str, dst: PodClass) -> bool:
        if r.named:
            return cluster_ports_match(r.rule, port, proto, dst.rep)
        key = (id(r), port, proto)
        got = self._admits.get(key)
        if got is None:
            got = self._admits[key] = cluster_ports_match(r.rule, port, proto, None)
        return got

    def _hits(
        self, tier: str, direction: str, dst: PodClass, port: int, proto: str
    ) -> list[PolicyHits]:
        d = dst.index
        out: list[PolicyHits] = []
        for subject, rules in self.pols[(tier, direction)]:
            hits: PolicyHits = []
            if direction == INGRESS:
                if subject >> d & 1:
                    hits = [
                        (r.ref, r.peers) for r in rules if self._admits_port(r, port, proto, dst)
                    ]
            else:
                hits = [
                    (r.ref, subject)
                    for r in rules
                    if r.peers >> d & 1 and self._admits_port(r, port, proto, dst)
                ]
            out.append(hits)
        return out

    def at(
        self, dst: PodClass, port: int, proto: str
    ) -> tuple[TierBits, TierBits, TierBits, TierBits]:
        return (
            tier_bits(self._hits(ADMIN, INGRESS, dst, port, proto), self.all),
            tier_bits(self._hits(BASELINE, INGRESS, dst, port, proto), self.all),
            tier_bits(self._hits(ADMIN, EGRESS, dst, port, proto), self.all),
            tier_bits(self._hits(BASELINE, EGRESS, dst, port, proto), self.all),
        )
