"""A behavioural fake of nftables, the in-memory twin of :class:`ExecNftRunner`.

Modelled on knftables ``fake.go``: it keeps tables, chains (with rule text), sets and
maps (with elements) and enforces the rules the kernel enforces, so controller tests
catch the mistakes the kernel would:

* a transaction is atomic: on any error nothing of it is applied;
* naming a missing table, chain, set, map or element is ``ENOENT``
  (:class:`NftNotFoundError`), also inside rules (``@set``, ``jump``/``goto``) and in
  verdict-map data (``goto chain``);
* deleting a chain or set that is still referenced is ``EBUSY`` (:class:`NftBusyError`);
* adding an element whose key already exists is :class:`NftExistsError`. The kernel
  only refuses a duplicate key with *different* data (an identical re-add is a no-op);
  the fake refuses both, on purpose: podnet's diff never re-adds, so a duplicate here
  means the diff's idea of the old state was wrong.

Rule text is not interpreted beyond its references; the golden-text tests and the
kernel tests cover its meaning.
"""

from __future__ import annotations

import copy
import errno
import re
from dataclasses import dataclass, field

from podnet.dataplane.failures import nft_error
from podnet.dataplane.nft.transaction import Op, Transaction
from podnet.errors import NftError

_SET_REF = re.compile(r"@([A-Za-z0-9_.-]+)")
_CHAIN_REF = re.compile(r"\b(?:jump|goto)\s+([A-Za-z0-9_.-]+)")


@dataclass
class FakeSet:
    is_map: bool
    decl: str
    elements: dict[str, str | None] = field(default_factory=dict)


@dataclass
class FakeChain:
    base: str
    rules: list[str] = field(default_factory=list)


@dataclass
class FakeTable:
    chains: dict[str, FakeChain] = field(default_factory=dict)
    sets: dict[str, FakeSet] = field(default_factory=dict)


def _fail(code: int | None, op: Op, why: str) -> NftError:
    """The error the real runner would raise: same classifier, the kernel's errno."""
    return nft_error(["fake-nft", op.verb, op.kind, op.target()], 1, f"Error: {why}", errno=code)


class FakeNft:
    """An :class:`~podnet.dataplane.nft.transaction.NftRunner` that keeps state in memory."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], FakeTable] = {}
        self.transactions = 0  # committed, non-empty transactions
        self.last_ops = 0  # operations in the last committed transaction

    # -- the seam -----------------------------------------------------------------------
    def run(self, tx: Transaction) -> None:
        if not tx.ops:
            return
        work = copy.deepcopy(self.tables)
        for op in tx.ops:
            _apply(work, op)
        self.tables = work
        self.transactions += 1
        self.last_ops = len(tx)

    # -- inspection for tests -----------------------------------------------------------
    def table(self, family: str, name: str) -> FakeTable:
        return self.tables[(family, name)]

    def elements(self, family: str, table: str, name: str) -> dict[str, str | None]:
        return dict(self.tables[(family, table)].sets[name].elements)

    def snapshot(self) -> dict[str, object]:
        """Everything, as plain comparable data (two fakes in the same state compare equal)."""
        out: dict[str, object] = {}
        for (fam, name), t in sorted(self.tables.items()):
            out[f"{fam} {name}"] = {
                "chains": {c: (ch.base, tuple(ch.rules)) for c, ch in sorted(t.chains.items())},
                "sets": {
                    s: (st.is_map, st.decl, dict(sorted(st.elements.items())))
                    for s, st in sorted(t.sets.items())
                },
            }
        return out


def _apply(tables: dict[tuple[str, str], FakeTable], op: Op) -> None:
    key = (op.family, op.table)
    if op.kind == "table":
        if op.verb == "add":
            tables.setdefault(key, FakeTable())
        elif op.verb == "delete":
            if key not in tables:
                raise _fail(errno.ENOENT, op, "No such file or directory")
            del tables[key]
        else:
            raise _fail(None, op, "unsupported table operation")
        return
    t = tables.get(key)
    if t is None:
        raise _fail(errno.ENOENT, op, "No such file or directory (table)")
    if op.kind == "chain":
        _apply_chain(t, op)
    elif op.kind in ("set", "map"):
        _apply_set(t, op)
    elif op.kind == "rule":
        _apply_rule(t, op)
    else:
        _apply_element(t, op)


def _apply_chain(t: FakeTable, op: Op) -> None:
    if op.verb == "add":
        t.chains.setdefault(op.name, FakeChain(op.spec))
        return
    chain = t.chains.get(op.name)
    if chain is None:
        raise _fail(errno.ENOENT, op, "No such file or directory (chain)")
    if op.verb == "flush":
        chain.rules.clear()
        return
    if _chain_referenced(t, op.name):
        raise _fail(errno.EBUSY, op, "Device or resource busy")
    del t.chains[op.name]


def _chain_referenced(t: FakeTable, name: str) -> bool:
    for cname, ch in t.chains.items():
        if cname == name:
            continue
        if any(name in _CHAIN_REF.findall(r) for r in ch.rules):
            return True
    for st in t.sets.values():
        for v in st.elements.values():
            if v is not None and name in _CHAIN_REF.findall(v):
                return True
    return False


def _apply_set(t: FakeTable, op: Op) -> None:
    if op.verb == "add":
        existing = t.sets.get(op.name)
        if existing is None:
            t.sets[op.name] = FakeSet(op.kind == "map", op.spec)
        elif existing.is_map != (op.kind == "map"):
            raise _fail(errno.EEXIST, op, "File exists")
        return
    st = t.sets.get(op.name)
    if st is None or st.is_map != (op.kind == "map"):
        raise _fail(errno.ENOENT, op, "No such file or directory (set)")
    if op.verb == "flush":
        st.elements.clear()
        return
    if any(op.name in _SET_REF.findall(r) for ch in t.chains.values() for r in ch.rules):
        raise _fail(errno.EBUSY, op, "Device or resource busy")
    del t.sets[op.name]


def _apply_rule(t: FakeTable, op: Op) -> None:
    chain = t.chains.get(op.name)
    if chain is None:
        raise _fail(errno.ENOENT, op, "No such file or directory (chain)")
    for ref in _SET_REF.findall(op.spec):
        if ref not in t.sets:
            raise _fail(errno.ENOENT, op, f"No such file or directory (set {ref})")
    for ref in _CHAIN_REF.findall(op.spec):
        if ref not in t.chains:
            raise _fail(errno.ENOENT, op, f"No such file or directory (chain {ref})")
    chain.rules.append(op.spec)


def _apply_element(t: FakeTable, op: Op) -> None:
    st = t.sets.get(op.name)
    if st is None:
        raise _fail(errno.ENOENT, op, "No such file or directory (set)")
    for key, value in op.items:
        if op.verb == "delete":
            if key not in st.elements:
                raise _fail(errno.ENOENT, op, f"No such file or directory (element {key})")
            del st.elements[key]
            continue
        if op.verb != "add":
            raise _fail(None, op, "unsupported element operation")
        if st.is_map != (value is not None):
            raise _fail(None, op, "map elements need data, set elements must not")
        if key in st.elements:
            raise _fail(errno.EEXIST, op, f"File exists (element {key})")
        for ref in _CHAIN_REF.findall(value or ""):
            if ref not in t.chains:
                raise _fail(errno.ENOENT, op, f"No such file or directory (chain {ref})")
        st.elements[key] = value
