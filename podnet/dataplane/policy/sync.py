"""Applying the policy table: :func:`full_transaction`, :func:`diff`, :class:`PolicyProxy`.

Same contract as the Service proxy (podnet.dataplane.proxy.sync, after kube-proxy's
``syncProxyRules``): a full sync replaces the table in one ``nft -f`` batch, later
syncs send only the difference (element deletes/adds, plus flush-and-refill of the few
chains whose rules changed), and any failed partial sync falls back to a full one.
The runner seam, transaction and error classes are the proxy's; nothing here reads
or writes the proxy's table.
"""

from __future__ import annotations

from podnet.dataplane.nft.transaction import NftRunner, Transaction
from podnet.dataplane.policy.compile import FAMILY, TABLE, PolicyState
from podnet.errors import NftError


def full_transaction(ps: PolicyState) -> Transaction:
    """Replace the whole table atomically (``add``+``delete`` first so it works whether
    or not the table exists; the kernel sees one batch, so no packet sees it empty)."""
    tx = Transaction(FAMILY, TABLE)
    tx.add_table()
    tx.delete_table()
    tx.add_table()
    for name, (is_map, decl) in ps.sets.items():
        (tx.add_map if is_map else tx.add_set)(name, decl)
    for name, (base, _) in ps.chains.items():
        tx.add_chain(name, base)
    for name, (_, rules) in ps.chains.items():
        for rule in rules:
            tx.add_rule(name, rule)
    for name, elements in ps.elements.items():
        tx.add_elements(name, elements.items())
    return tx


def delete_transaction() -> Transaction:
    """Remove the table (``add`` first, so it also succeeds when there is none)."""
    tx = Transaction(FAMILY, TABLE)
    tx.add_table()
    tx.delete_table()
    return tx


def diff(old: PolicyState, new: PolicyState) -> Transaction:
    """The transaction that turns table(``old``) into table(``new``).

    Order inside the batch: new sets and chains first (rules and map data may point at
    them), then rules of new or changed chains (changed ones flushed first), then
    element deletes before adds (a key whose data changed is deleted and re-added), then
    chains and sets nothing references any more, chains in reverse creation order
    (referrers before what they refer to).
    """
    tx = Transaction(FAMILY, TABLE)
    for name, (is_map, decl) in new.sets.items():
        if name not in old.sets:
            (tx.add_map if is_map else tx.add_set)(name, decl)
    for name, (base, _) in new.chains.items():
        if name not in old.chains:
            tx.add_chain(name, base)
    for name, (_, rules) in new.chains.items():
        before = old.chains.get(name)
        if before is not None and before[1] == rules:
            continue
        if before is not None:
            tx.flush_chain(name)
        for rule in rules:
            tx.add_rule(name, rule)
    for name, olds in old.elements.items():
        if name not in new.sets:
            continue  # the set goes away whole
        news = new.elements.get(name, {})
        tx.delete_elements(name, [k for k, v in olds.items() if k not in news or news[k] != v])
    for name, news in new.elements.items():
        olds = old.elements.get(name, {}) if name in old.sets else {}
        tx.add_elements(name, [(k, v) for k, v in news.items() if k not in olds or olds[k] != v])
    for name in reversed(old.chains):
        if name not in new.chains:
            tx.delete_chain(name)
    for name, (is_map, _) in old.sets.items():
        if name not in new.sets:
            (tx.delete_map if is_map else tx.delete_set)(name)
    return tx


class PolicyProxy:
    """Keeps what was applied to one node; :meth:`sync` applies the difference.

    Full sync on the first call and after any failed partial sync (the table may then
    differ from what we believe), as kube-proxy does.
    """

    def __init__(self, runner: NftRunner) -> None:
        self.runner = runner
        self.applied: PolicyState | None = None
        self.full_syncs = 0

    def sync(self, new: PolicyState) -> int:
        """Apply ``new``; returns how many operations the transaction had."""
        if self.applied is not None:
            tx = diff(self.applied, new)
            try:
                self.runner.run(tx)
            except NftError:
                self.applied = None
            else:
                self.applied = new
                return len(tx)
        tx = full_transaction(new)
        self.applied = None
        self.runner.run(tx)
        self.applied = new
        self.full_syncs += 1
        return len(tx)

    def remove(self) -> None:
        """Delete the table; the next :meth:`sync` is a full one."""
        self.runner.run(delete_transaction())
        self.applied = None
