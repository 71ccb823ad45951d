"""The proxy table's transactions: the whole table, or what one change changed.

:class:`Delta` records the *before* state of everything a change touched (element
data, whether a per-count object existed, affinity parts, the record chain); the
table holds the *after* state; :func:`delta_transaction` emits only the differences.
The whole table is rendered by :func:`podnet.dataplane.nft.objects.full_transaction`.

Order matters inside the batch (the kernel checks references at each command): new
maps and chains first, then rewritten chains, then element deletes before adds, then
flushes of affinity maps, then chains nothing references any more before the maps
their rules used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from podnet.dataplane.nft.objects import (
    Chain,
    Table,
    add_chain,
    add_rules,
    add_set,
    delete_set,
)
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
) -> Table:
    """The whole table as data; dict order is creation order (referenced objects first)."""
    sets = dict(STATIC_SETS)
    chains: dict[str, Chain] = {}
    for n in sorted(counts):
        sets.update(count_sets(n))
        chains.update(count_chains(n))
    for aid in sorted(affinity):
        a = affinity[aid]
        sets[a.map.name] = a.map
        chains[a.chain.name] = a.chain
    chains[RECORD_CHAIN] = Chain(RECORD_CHAIN, record_rules)
    chains[SERVICES_CHAIN] = Chain(SERVICES_CHAIN, services_rules(counts))
    chains.update(BASE_CHAINS)
    chains[POSTROUTING.name] = POSTROUTING
    els = {
        name: dict(elements[name]) if copy else elements[name] for name in sets if name in elements
    }
    return Table(FAMILY, TABLE, sets, chains, els)


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
        for spec in count_sets(n).values():
            add_set(tx, spec)
    for before, after in aff:
        if after is not None and before is None:
            add_set(tx, after.map)
    for n in born:  # each new map with the one rule that uses it (see README.md)
        for chain in count_chains(n).values():
            add_chain(tx, chain)
            add_rules(tx, chain)
    if born or dead:
        add_rules(tx, Chain(SERVICES_CHAIN, services_rules(counts)), flush=True)
    for before, after in aff:
        if after is None or (before is not None and before.chain == after.chain):
            continue
        if before is None:
            add_chain(tx, after.chain)
        add_rules(tx, after.chain, flush=before is not None)
    if d.record and record_rules != d.record_before:
        add_rules(tx, Chain(RECORD_CHAIN, record_rules), flush=True)
    # a map deleted below takes its elements with it: deleting them first only made
    # nft parse them (a scale-up's every count change dropped a map of hundreds)
    gone = {name for n in dead for name in count_sets(n)}
    _element_ops(tx, d, elements, gone)
    for before, after in aff:
        if before is not None and after is not None and before.backends - after.backends:
            # Remembered choices may point at a gone pod. kube-proxy drops only those of
            # removed endpoints (its sets are per endpoint); flushing the Service's map
            # re-balances its clients once.
            tx.flush_map(after.map.name)
    for before, after in aff:
        if before is not None and after is None:
            tx.delete_chain(before.chain.name)
    for n in dead:
        for name in count_chains(n):
            tx.delete_chain(name)
    for before, after in aff:
        if before is not None and after is None:
            delete_set(tx, before.map)
    for n in dead:
        for spec in count_sets(n).values():
            delete_set(tx, spec)
    return tx


def _element_ops(
    tx: Transaction,
    d: Delta,
    elements: Mapping[str, Mapping[str, str | None]],
    gone: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Element deletes, then adds; none for the maps in ``gone`` (deleted whole)."""
    deletes: dict[str, list[str]] = {}
    adds: dict[str, list[tuple[str, str | None]]] = {}
    empty: dict[str, str | None] = {}
    for (s, k), before in d.elements.items():
        after = elements.get(s, empty).get(k, ABSENT)
        if after == before:
            continue
        if before != ABSENT and s not in gone:
            deletes.setdefault(s, []).append(k)
        if after != ABSENT:
            adds.setdefault(s, []).append((k, after))
    for s, keys in deletes.items():
        tx.delete_elements(s, keys)
    for s, items in adds.items():
        tx.add_elements(s, items)
