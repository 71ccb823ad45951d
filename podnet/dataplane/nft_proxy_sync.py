"""Applying the proxy table: :func:`full_sync`, :func:`diff` and :class:`ServiceProxy`.

kube-proxy's nftables proxier (``pkg/proxy/nftables/proxier.go`` ``syncProxyRules``)
does a full sync at start and after any failure, and otherwise a partial sync that
only touches what changed; each is ONE ``nft -f`` transaction. Same here: ``diff``
compares the tables two :class:`ProxyState` values describe and emits element
deletes/adds (plus the few structural changes a changed endpoint *count* or affinity
needs), never a rewrite of the table.
"""

from __future__ import annotations

from podnet.dataplane.nft import NftError, NftRunner, Transaction
from podnet.dataplane.nft_proxy import ProxyState
from podnet.dataplane.nft_proxy_rules import FAMILY, TABLE, Desired, affinity_id, desired


def full_transaction(st: ProxyState) -> Transaction:
    """Replace the whole table atomically (``add``+``delete`` first so it works whether
    or not the table exists; the kernel sees one batch, so no packet sees it empty)."""
    d = desired(st)
    tx = Transaction(FAMILY, TABLE)
    tx.add_table()
    tx.delete_table()
    tx.add_table()
    for name, (is_map, decl) in d.sets.items():
        (tx.add_map if is_map else tx.add_set)(name, decl)
    for name, (base, _) in d.chains.items():
        tx.add_chain(name, base)
    for name, (_, rules) in d.chains.items():
        for rule in rules:
            tx.add_rule(name, rule)
    for name, elements in d.elements.items():
        tx.add_elements(name, elements.items())
    return tx


def full_sync(runner: NftRunner, st: ProxyState) -> None:
    """Program the whole table for ``st`` in one transaction."""
    runner.run(full_transaction(st))


def diff(old: ProxyState, new: ProxyState) -> Transaction:
    """The element-level transaction that turns table(``old``) into table(``new``).

    Order matters inside the batch: new maps and chains first (elements and rules may
    point at them), then element deletes before adds (a key whose data changed is
    deleted and re-added), then removal of chains and maps nothing references any more.
    """
    return diff_desired(old, desired(old), new, desired(new))


def diff_desired(old: ProxyState, a: Desired, new: ProxyState, b: Desired) -> Transaction:
    """:func:`diff` with both tables already computed (the syncer caches the old one)."""
    tx = Transaction(FAMILY, TABLE)
    for name, (is_map, decl) in b.sets.items():
        if name not in a.sets:
            (tx.add_map if is_map else tx.add_set)(name, decl)
    for name, (base, _) in b.chains.items():
        if name not in a.chains:
            tx.add_chain(name, base)
    for name, (_, rules) in b.chains.items():
        if name in a.chains and a.chains[name][1] == rules:
            continue
        if name in a.chains:
            tx.flush_chain(name)
        for rule in rules:
            tx.add_rule(name, rule)
    _element_ops(tx, a, b)
    for aid in _affinity_to_forget(old, new):
        tx.flush_map(f"affinity-{aid}")
    for name in reversed(a.chains):
        if name not in b.chains:
            tx.delete_chain(name)
    for name, (is_map, _) in a.sets.items():
        if name not in b.sets:
            (tx.delete_map if is_map else tx.delete_set)(name)
    return tx


def _element_ops(tx: Transaction, a: Desired, b: Desired) -> None:
    for name, olds in a.elements.items():
        news = b.elements.get(name, {})
        for key, value in olds.items():
            if key not in news or news[key] != value:
                tx.delete_element(name, key)
    for name, news in b.elements.items():
        olds = a.elements.get(name, {})
        for key, value in news.items():
            if key not in olds or olds[key] != value:
                tx.add_element(name, key, value)


def _affinity_to_forget(old: ProxyState, new: ProxyState) -> list[str]:
    """Affinity maps (kept) whose service lost an endpoint: their remembered choices may
    point at a gone pod. kube-proxy drops the affinity of removed endpoints only (its
    sets are per endpoint); flushing the service's map re-balances its clients once."""
    before = {
        affinity_id(r): set(r.backends) for r in old.ports if r.affinity_timeout and r.backends
    }
    out = []
    for r in new.ports:
        if r.affinity_timeout is None or not r.backends:
            continue
        aid = affinity_id(r)
        if aid in before and before[aid] - set(r.backends):
            out.append(aid)
    return out


class ServiceProxy:
    """Keeps what was applied; :meth:`sync` applies the difference, or everything.

    Full sync on the first call and after any failed partial sync (the table may then
    differ from what we believe), as kube-proxy does.
    """

    def __init__(self, runner: NftRunner) -> None:
        self.runner = runner
        self.applied: ProxyState | None = None
        self._applied_table: Desired | None = None  # desired(applied), computed once
        self.full_syncs = 0

    def sync(self, new: ProxyState) -> int:
        """Apply ``new``; returns how many operations the (partial) transaction had."""
        table = desired(new)
        if self.applied is not None and self._applied_table is not None:
            tx = diff_desired(self.applied, self._applied_table, new, table)
            try:
                self.runner.run(tx)
            except NftError:
                self.applied = None
            else:
                self.applied, self._applied_table = new, table
                return len(tx)
        tx = full_transaction(new)
        self.applied = self._applied_table = None
        self.runner.run(tx)
        self.applied, self._applied_table = new, table
        self.full_syncs += 1
        return len(tx)
