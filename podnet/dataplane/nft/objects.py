"""Named parts of an nft table, and the one place they become transaction lines.

knftables describes a ruleset as ``Table``, ``Chain{Name, Type, Hook, Priority}``,
``Set{Name, Type, Flags}`` and ``Map`` objects (knftables ``types.go``) and renders
them in one writer; podnet does the same, so the Service proxy and the policy tables
share one renderer, one full transaction and one diff. Elements live beside the specs
(:attr:`Table.elements`), not inside them: they are what partial syncs change, and a
spec compares equal across syncs exactly when its declaration is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from podnet.dataplane.nft.transaction import Transaction

Elements = Mapping[str, str | None]  # key -> data (None for set elements)


@dataclass(frozen=True)
class Chain:
    """A chain; a base chain when ``type`` is set (then ``hook`` and ``priority`` too)."""

    name: str
    rules: tuple[str, ...] = ()
    type: str = ""  # filter, nat
    hook: str = ""  # prerouting, output, forward, postrouting
    priority: str = ""  # a number or nft's name arithmetic: "dstnat", "filter + 1"
    policy: str = ""  # accept, drop

    @property
    def base(self) -> str:
        """The base-chain declaration (empty for a regular chain)."""
        if not self.type:
            return ""
        decl = f"type {self.type} hook {self.hook} priority {self.priority};"
        return f"{decl} policy {self.policy};" if self.policy else decl


@dataclass(frozen=True)
class Set:
    """A named set: ``type`` (data types) or ``typeof`` (expressions), never both."""

    KIND: ClassVar[Literal["set", "map"]] = "set"

    name: str
    type: str = ""
    typeof: str = ""
    flags: tuple[str, ...] = ()
    timeout: int | None = None  # seconds, for ``flags timeout``
    size: int | None = None  # most elements (a bound for ``flags dynamic`` sets)

    def decl(self) -> str:
        """What goes between the braces of ``add set``/``add map``."""
        parts = [f"typeof {self.typeof};" if self.typeof else f"type {self.type};"]
        if self.flags:
            parts.append(f"flags {','.join(self.flags)};")
        if self.timeout is not None:
            parts.append(f"timeout {self.timeout}s;")
        if self.size is not None:
            parts.append(f"size {self.size};")
        return " ".join(parts)


@dataclass(frozen=True)
class Map(Set):
    """A named map; its ``type``/``typeof`` is ``key : data`` (``ipv4_addr : verdict``)."""

    KIND: ClassVar[Literal["set", "map"]] = "map"


@dataclass(frozen=True)
class Table:
    """A whole table as data. Dict order is creation order: a set before the rules
    that use it, a chain after every chain it jumps to (so deleting in reverse is safe)."""

    family: str
    name: str
    sets: Mapping[str, Set] = field(default_factory=dict)  # Map is a Set
    chains: Mapping[str, Chain] = field(default_factory=dict)
    elements: Mapping[str, Elements] = field(default_factory=dict)  # set name -> elements


def sets_of(*specs: Set) -> dict[str, Set]:
    return {s.name: s for s in specs}


def chains_of(*specs: Chain) -> dict[str, Chain]:
    return {c.name: c for c in specs}


def add_set(tx: Transaction, s: Set) -> None:
    (tx.add_map if s.KIND == "map" else tx.add_set)(s.name, s.decl())


def delete_set(tx: Transaction, s: Set) -> None:
    (tx.delete_map if s.KIND == "map" else tx.delete_set)(s.name)


def add_chain(tx: Transaction, c: Chain) -> None:
    tx.add_chain(c.name, c.base)


def add_rules(tx: Transaction, c: Chain, flush: bool = False) -> None:
    if flush:
        tx.flush_chain(c.name)
    for rule in c.rules:
        tx.add_rule(c.name, rule)


def full_transaction(t: Table) -> Transaction:
    """Replace the whole table in one batch: ``add`` + ``delete`` first so it works
    whether or not the table exists; the kernel applies the batch atomically, so no
    packet ever sees the table empty or half-filled (knftables relies on the same)."""
    tx = Transaction(t.family, t.name)
    tx.add_table()
    tx.delete_table()
    tx.add_table()
    for s in t.sets.values():
        add_set(tx, s)
    for c in t.chains.values():
        add_chain(tx, c)
    for c in t.chains.values():
        add_rules(tx, c)
    for name, items in t.elements.items():
        tx.add_elements(name, items.items())
    return tx


def delete_transaction(family: str, name: str) -> Transaction:
    """Remove a table (``add`` first, so it also succeeds when there is none)."""
    tx = Transaction(family, name)
    tx.add_table()
    tx.delete_table()
    return tx


def diff(old: Table, new: Table) -> Transaction | None:
    """The partial transaction from ``old`` to ``new``, or None when only a full sync
    can do it (a set or base chain whose declaration changed under the same name).

    Order inside the batch (the kernel checks references at each command): new sets
    and chains, then rules of new or changed chains (changed ones flushed first), then
    element deletes before adds (a key whose data changed is deleted and re-added),
    then chains nothing references any more (reverse creation order), then sets.
    """
    tx = Transaction(new.family, new.name)
    for name, s in new.sets.items():
        was = old.sets.get(name)
        if was is None:
            add_set(tx, s)
        elif was != s:
            return None
    for name, c in new.chains.items():
        was_c = old.chains.get(name)
        if was_c is None:
            add_chain(tx, c)
        elif was_c.base != c.base:
            return None
    for name, c in new.chains.items():
        was_c = old.chains.get(name)
        if was_c is None or was_c.rules != c.rules:
            add_rules(tx, c, flush=was_c is not None)
    empty: Elements = {}
    for name, olds in old.elements.items():
        if name not in new.sets:
            continue  # the set goes away whole
        news = new.elements.get(name, empty)
        tx.delete_elements(name, [k for k, v in olds.items() if k not in news or news[k] != v])
    for name, news in new.elements.items():
        olds = old.elements.get(name, empty) if name in old.sets else empty
        tx.add_elements(name, [(k, v) for k, v in news.items() if k not in olds or olds[k] != v])
    for name in reversed(list(old.chains)):
        if name not in new.chains:
            tx.delete_chain(name)
    for name, s in old.sets.items():
        if name not in new.sets:
            delete_set(tx, s)
    return tx
