"""The proxy table as the sum of per-port fragments, updated in O(changed Services).

kube-proxy's ``proxier.go`` shape (change trackers, partial sync of changed Services)
on podnet's map-based table: only the changed Services' fragments are recomputed, with
reference counts for shared elements and per-count objects. When one of two ports
claiming the same frontend changes (a broken cluster), the rules whose ownership moved
are recomputed too, so the result is always :func:`desired` of the new state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from podnet.dataplane.nft.objects import Table, full_transaction
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.proxy.claims import Claims, Prec, RuleId
from podnet.dataplane.proxy.fragment import (
    AffinityPart,
    Fragment,
    fragment,
    front_key,
    nodeport_key,
)
from podnet.dataplane.proxy.rules import STATIC_SETS
from podnet.dataplane.proxy.services import ProxyState, ServicePortRule, gc_paused, rule_order
from podnet.dataplane.proxy.transactions import (
    ABSENT,
    Delta,
    delta_transaction,
    whole_table,
)

Changes = Mapping[str, Iterable[ServicePortRule]]  # service key -> its new rules

_SHARED = frozenset(("cluster-ips", "nodeports"))


def group_by_service(ports: Iterable[ServicePortRule]) -> dict[str, list[ServicePortRule]]:
    out: dict[str, list[ServicePortRule]] = {}
    for r in ports:
        out.setdefault(r.service, []).append(r)
    return out


class _Entry(NamedTuple):
    rule: ServicePortRule
    prec: Prec
    front: str  # front_key(rule)


class ProxyTable:
    """The desired proxy table, mutable, with per-Service fragments (see module doc)."""

    def __init__(self) -> None:
        self.services: dict[str, tuple[ServicePortRule, ...]] = {}
        self.elements: dict[str, dict[str, str | None]] = {name: {} for name in STATIC_SETS}
        self._rules: dict[RuleId, _Entry] = {}
        self._frags: dict[RuleId, Fragment] = {}
        self._fronts = Claims()
        self._nodeports = Claims()
        self._np_of: dict[RuleId, str] = {}
        self._refs: dict[str, dict[str, int]] = {name: {} for name in _SHARED}
        self.counts: dict[int, int] = {}  # endpoint count -> owning rules with it
        self.affinity: dict[str, AffinityPart] = {}
        self._record: dict[RuleId, tuple[Prec, tuple[str, ...]]] = {}
        self.record_rules: tuple[str, ...] = ()

    @classmethod
    def from_state(cls, st: ProxyState) -> ProxyTable:
        t = cls()
        t.load(group_by_service(st.ports))
        return t

    # -- changes --------------------------------------------------------------------------
    def load(self, changes: Changes) -> None:
        """Replace the rules of the given Services, without building a transaction
        (with the GC paused: see :func:`~podnet.dataplane.proxy.services.gc_paused`)."""
        with gc_paused():
            self._update(changes, None)

    def apply(self, changes: Changes) -> Transaction:
        """Replace the rules of the given Services (``()`` removes one); return the
        transaction that turns the old table into the new one."""
        d = Delta(record_before=self.record_rules)
        self._update(changes, d)
        return delta_transaction(d, self.elements, self.counts, self.affinity, self.record_rules)

    def changes_to(self, st: ProxyState) -> dict[str, tuple[ServicePortRule, ...]]:
        """The Services whose rules differ between this table and ``st`` (O(Services))."""
        grouped = group_by_service(st.ports)
        out: dict[str, tuple[ServicePortRule, ...]] = {}
        for key, rules in grouped.items():
            mine = tuple(sorted(rules, key=rule_order)) if len(rules) > 1 else tuple(rules)
            if self.services.get(key) != mine:
                out[key] = mine
        for key in self.services:
            if key not in grouped:
                out[key] = ()
        return out

    def _update(self, changes: Changes, d: Delta | None) -> None:
        dirty: dict[RuleId, None] = {}
        fronts: dict[str, None] = {}
        entries = self._rules
        for key, rules in changes.items():
            for i, r in enumerate(self.services.pop(key, ())):
                rid = (key, i)
                e = entries.pop(rid)
                dirty[rid] = None
                if r.backends:
                    self._fronts.drop(e.front, rid)
                    fronts[e.front] = None
            new = tuple(rules)
            if len(new) > 1:
                new = tuple(sorted(new, key=rule_order))
            if new:
                self.services[key] = new
            for i, r in enumerate(new):
                rid = (key, i)
                e = _Entry(r, (r.cluster_ip, r.protocol, r.port, key, i), front_key(r))
                entries[rid] = e
                dirty[rid] = None
                if r.backends:
                    self._fronts.add(e.front, rid, e.prec)
                    fronts[e.front] = None
        self._fronts.settle(fronts, dirty)
        front_owner = self._fronts.owner
        nodeports: dict[str, None] = {}
        for rid in dirty:
            old_np = self._np_of.pop(rid, None)
            if old_np is not None:
                self._nodeports.drop(old_np, rid)
                nodeports[old_np] = None
            ent = entries.get(rid)
            if ent is None or ent.rule.node_port is None or front_owner.get(ent.front) != rid:
                continue
            k = nodeport_key(ent.rule)
            self._nodeports.add(k, rid, ent.prec)
            self._np_of[rid] = k
            nodeports[k] = None
        self._nodeports.settle(nodeports, dirty)
        np_owned = self._np_of
        np_owner = self._nodeports.owner
        added: list[tuple[RuleId, Prec, Fragment]] = []
        for rid in dirty:  # all removals first, then all additions (keys may move)
            old = self._frags.pop(rid, None)
            ent = entries.get(rid)
            frag = None
            if ent is not None:
                owns = front_owner.get(ent.front) == rid
                owns_np = rid in np_owned and np_owner.get(np_owned[rid]) == rid
                frag = fragment(ent.rule, owns, owns_np, ent.front)
                self._frags[rid] = frag
            if old == frag:
                continue
            if old is not None:
                self._remove(rid, old, d)
            if frag is not None and ent is not None:
                added.append((rid, ent.prec, frag))
        for rid, prec, frag in added:
            self._add(rid, prec, frag, d)
        if d is None or d.record:
            recs = sorted(self._record.values())
            self.record_rules = tuple(line for _, lines in recs for line in lines)

    def _add(self, rid: RuleId, prec: Prec, frag: Fragment, d: Delta | None) -> None:
        n = frag.n
        if n:
            c = self.counts.get(n, 0)
            if d is not None:
                d.counts.setdefault(n, c > 0)
            self.counts[n] = c + 1
            if c == 0:
                self.elements[f"be-{n}"] = {}
                self.elements[f"npbe-{n}"] = {}
        els, refs = self.elements, self._refs
        if d is not None:
            _track(d, els, frag)
        for s, k in frag.shared:
            counts = refs[s]
            c = counts.get(k, 0)
            counts[k] = c + 1
            if not c:
                els[s][k] = None
        for s, k, v in frag.unique:
            els[s][k] = v
        a = frag.affinity
        if a is not None:
            if d is not None:
                d.affinity.setdefault(a.aid, self.affinity.get(a.aid))
                d.record = True
            self.affinity[a.aid] = a
            self._record[rid] = (prec, a.record)

    def _remove(self, rid: RuleId, frag: Fragment, d: Delta | None) -> None:
        els, refs = self.elements, self._refs
        if d is not None:
            _track(d, els, frag)
        for s, k in frag.shared:
            counts = refs[s]
            c = counts[k]
            if c > 1:
                counts[k] = c - 1
            else:
                del counts[k], els[s][k]
        for s, k, v in frag.unique:
            if els[s].get(k, ABSENT) == v:
                del els[s][k]
        n = frag.n
        if n:
            c = self.counts[n]
            if d is not None:
                d.counts.setdefault(n, True)
            if c == 1:
                del self.counts[n], self.elements[f"be-{n}"], self.elements[f"npbe-{n}"]
            else:
                self.counts[n] = c - 1
        a = frag.affinity
        if a is not None:
            if d is not None:
                d.affinity.setdefault(a.aid, self.affinity.get(a.aid))
                d.record = True
            if self.affinity.get(a.aid) == a:
                del self.affinity[a.aid]
            self._record.pop(rid, None)

    # -- the whole table ------------------------------------------------------------------
    def as_desired(self, copy: bool = True) -> Table:
        """The whole table; dict order is creation order (referenced objects first).
        With ``copy=False`` the element dicts are the table's own (read them at once)."""
        return whole_table(self.elements, self.counts, self.affinity, self.record_rules, copy)

    def full_transaction(self) -> Transaction:
        """Replace the whole kernel table atomically, in one transaction."""
        with gc_paused():
            return full_transaction(self.as_desired(copy=False))


def _track(d: Delta, els: Mapping[str, Mapping[str, str | None]], frag: Fragment) -> None:
    """Remember the data of the elements ``frag`` touches, as it is before the change."""
    seen = d.elements
    for s, k in frag.shared:
        seen.setdefault((s, k), els[s].get(k, ABSENT))
    for s, k, _ in frag.unique:
        seen.setdefault((s, k), els[s].get(k, ABSENT))


def desired(st: ProxyState) -> Table:
    """Turn a :class:`ProxyState` into the table's sets, chains and elements. Pure."""
    return ProxyTable.from_state(st).as_desired()
