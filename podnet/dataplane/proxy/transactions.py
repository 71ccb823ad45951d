"""The proxy table's transactions: the whole table, or what one change changed.

:func:`full_transaction_of` replaces the whole table: ``add`` + ``delete`` of the table
first so it works whether or not it exists; the kernel sees one batch, so no packet
ever sees the table empty or half-filled.

:func:`delta_transaction` is the one for :meth:`ProxyTable.apply`: what changed, in a
safe order.

:class:`Delta` records the *before* state of everything a change touched (element
data, whether a per-count object existed, affinity parts, the record chain); the
table holds the *after* state. :func:`delta_transaction` emits only the differences.

Order matters inside the batch (the kernel checks references at each command): new
maps and chains first (elements and rules point at them), then rewritten chains, then
element deletes before adds (a key whose data changed is deleted and re-added), then
flushes of affinity maps, then removal of chains and maps nothing references any
more - chains (rewritten or deleted) before the maps their rules used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.proxy.fragment import AffinityPart
from podnet.dataplane.proxy.rules import (
    BASE_CHAINS,
    FAMILY,
    POSTROUTING,
    RECORD_CHAIN,
    SERVICES_CHAIN,
    STATIC_SETS,
    TABLE,
    Desired,
    count_chains,
    count_sets,
    services_rules,
)

ABSENT = "\0absent"  # an element's "data" when it is not in the table


@dataclass
class Delta:
    """What a change touched, as it was before the change."""

    record_before: tuple[str, ...] = ()
    elements: dict[tuple[str, str], str | None] = field(default_factory=dict)
    counts: dict[int, bool] = field(default_factory=dict)  # n -> be-<n> existed
    affinity: dict[str, AffinityPart | None] = field(default_factory=dict)
    record: bool = False  # the record-affinity rules may have changed


def whole_table(
    elements: Mapping[str, dict[str, str | None]],
    counts: Mapping[int, int],
    affinity: Mapping[str, AffinityPart],
    record_rules: tuple[str, ...],
    copy: bool,
) -> Desired:
    """The whole table as data; dict order is creation order (referenced objects first)."""
    sets = dict(STATIC_SETS)
    chains: dict[str, tuple[str, tuple[str, ...]]] = {}
    for n in sorted(counts):
        sets.update(count_sets(n))
        chains.update(count_chains(n))
    for aid in sorted(affinity):
        a = affinity[aid]
        sets[a.map_name] = (True, a.decl)
        chains[a.chain_name] = ("", a.chain)
    chains[RECORD_CHAIN] = ("", record_rules)
    chains[SERVICES_CHAIN] = ("", services_rules(counts))
    chains.update(BASE_CHAINS)
    chains[POSTROUTING[0]] = (POSTROUTING[1], POSTROUTING[2])
    els = {
        name: dict(elements[name]) if copy else elements[name] for name in sets if name in elements
    }
    return Desired(sets, chains, els)


def full_transaction_of(d: Desired) -> Transaction:
    """Replace the whole table with ``d`` in one transaction (see the module doc)."""
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
    for name, items in d.elements.items():
        tx.add_elements(name, items.items())
    return tx


def delta_transaction(
    d: Delta,
    elements: Mapping[str, Mapping[str, str | None]],
    counts: Mapping[int, int],
    affinity: Mapping[str, AffinityPart],
    record_rules: tuple[str, ...],
) -> Transaction:
    """The transaction from the state ``d`` remembers to the given (current) state."""
    tx = Transaction(FAMILY, TABLE)
    born = sorted(n for n, had in d.counts.items() if not had and n in counts)
    dead = sorted(n for n, had in d.counts.items() if had and n not in counts)
    aff = [(before, affinity.get(aid)) for aid, before in sorted(d.affinity.items())]
    for n in born:
        for name, (_, decl) in count_sets(n).items():
            tx.add_map(name, decl)
    for before, after in aff:
        if after is not None and before is None:
            tx.add_map(after.map_name, after.decl)
    for n in born:  # each new map with the one rule that uses it (see nft_proxy_rules)
        for name, (_, rules) in count_chains(n).items():
            tx.add_chain(name)
            for rule in rules:
                tx.add_rule(name, rule)
    if born or dead:
        tx.flush_chain(SERVICES_CHAIN)
        for rule in services_rules(counts):
            tx.add_rule(SERVICES_CHAIN, rule)
    for before, after in aff:
        if after is None or (before is not None and before.chain == after.chain):
            continue
        if before is None:
            tx.add_chain(after.chain_name)
        else:
            tx.flush_chain(after.chain_name)
        for rule in after.chain:
            tx.add_rule(after.chain_name, rule)
    if d.record and record_rules != d.record_before:
        tx.flush_chain(RECORD_CHAIN)
        for rule in record_rules:
            tx.add_rule(RECORD_CHAIN, rule)
    _element_ops(tx, d, elements)
    for before, after in aff:
        if before is not None and after is not None and before.backends - after.backends:
            # Remembered choices may point at a gone pod. kube-proxy drops only those of
            # removed endpoints (its sets are per endpoint); flushing the Service's map
            # re-balances its clients once.
            tx.flush_map(after.map_name)
    for before, after in aff:
        if before is not None and after is None:
            tx.delete_chain(before.chain_name)
    for n in dead:
        for name in count_chains(n):
            tx.delete_chain(name)
    for before, after in aff:
        if before is not None and after is None:
            tx.delete_map(before.map_name)
    for n in dead:
        for name in count_sets(n):
            tx.delete_map(name)
    return tx


def _element_ops(
    tx: Transaction, d: Delta, elements: Mapping[str, Mapping[str, str | None]]
) -> None:
    deletes: dict[str, list[str]] = {}
    adds: dict[str, list[tuple[str, str | None]]] = {}
    empty: dict[str, str | None] = {}
    for (s, k), before in d.elements.items():
        after = elements.get(s, empty).get(k, ABSENT)
        if after == before:
            continue
        if before != ABSENT:
            deletes.setdefault(s, []).append(k)
        if after != ABSENT:
            adds.setdefault(s, []).append((k, after))
    for s, keys in deletes.items():
        tx.delete_elements(s, keys)
    for s, items in adds.items():
        tx.add_elements(s, items)
