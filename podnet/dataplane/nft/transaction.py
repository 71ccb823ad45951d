"""nftables transactions: a builder, one exec seam, and the error classification.

A :class:`Transaction` is a list of structured operations (add/flush/delete of tables,
chains, sets, maps, elements and rules) that renders to the text ``nft -f -`` reads.
The kernel applies one ``nft -f`` input as ONE netlink batch: all of it or nothing
(knftables ``transaction.go`` relies on the same property). Everything that touches the
kernel goes through an :class:`NftRunner`; :class:`ExecNftRunner` runs the real binary
(optionally inside a network namespace, via an argv prefix such as
``["ip", "netns", "exec", "node-0"]``) and :class:`podnet.dataplane.nft.fake.FakeNft`
keeps the same state in memory and enforces the same rules.

A failed run becomes a :class:`~podnet.errors.NftError` subclass with its errno in
:func:`podnet.dataplane.failures.nft_error`, the one classifier (knftables ``error.go``).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from podnet.dataplane.failures import nft_error
from podnet.errors import NotSupportedError

Verb = Literal["add", "flush", "delete"]
Kind = Literal["table", "chain", "set", "map", "element", "rule"]

# Elements per rendered "add element" line; keeps lines bounded without costing
# anything measurable (nft parses one long line as fast as many short ones).
_ELEMENTS_PER_LINE = 2000


@dataclass(frozen=True)
class Op:
    """One line of a transaction.

    ``name`` is the chain/set/map (empty for tables). ``spec`` is the chain's base-chain
    declaration or the set/map declaration (``type ...; flags ...;``) for ``add``, and
    the rule text for rules. Element ops carry ``items``: ``(key, data)`` pairs, data
    ``None`` for sets (one op may carry many elements: a full sync of 60,000 elements
    should not cost 60,000 Python objects).
    """

    verb: Verb
    kind: Kind
    family: str
    table: str
    name: str = ""
    spec: str = ""
    items: tuple[tuple[str, str | None], ...] = ()

    def target(self) -> str:
        """The object the line names, as nft spells it (``ip podnet-proxy be-2``)."""
        return f"{self.family} {self.table} {self.name}".rstrip()


@dataclass
class Transaction:
    """An ordered batch of operations on ONE table, applied atomically by a runner."""

    family: str
    table: str
    ops: list[Op] = field(default_factory=list)

    def __len__(self) -> int:
        """Operations, counting each element separately (what the kernel does)."""
        return sum(len(op.items) if op.kind == "element" else 1 for op in self.ops)

    def counts(self) -> Counter[tuple[str, str]]:
        """``(verb, kind) -> n`` with elements counted one by one; for tests."""
        out: Counter[tuple[str, str]] = Counter()
        for op in self.ops:
            out[(op.verb, op.kind)] += len(op.items) if op.kind == "element" else 1
        return out

    def _op(self, verb: Verb, kind: Kind, name: str = "", spec: str = "") -> None:
        self.ops.append(Op(verb, kind, self.family, self.table, name, spec))

    def add_table(self) -> None:
        self._op("add", "table")

    def delete_table(self) -> None:
        self._op("delete", "table")

    def add_chain(self, name: str, base: str = "") -> None:
        """``base`` is e.g. ``type nat hook prerouting priority dstnat; policy accept;``."""
        self._op("add", "chain", name, spec=base)

    def flush_chain(self, name: str) -> None:
        self._op("flush", "chain", name)

    def delete_chain(self, name: str) -> None:
        self._op("delete", "chain", name)

    def add_set(self, name: str, decl: str) -> None:
        self._op("add", "set", name, spec=decl)

    def add_map(self, name: str, decl: str) -> None:
        self._op("add", "map", name, spec=decl)

    def flush_map(self, name: str) -> None:
        self._op("flush", "map", name)

    def delete_set(self, name: str) -> None:
        self._op("delete", "set", name)

    def delete_map(self, name: str) -> None:
        self._op("delete", "map", name)

    def add_rule(self, chain: str, rule: str) -> None:
        self._op("add", "rule", chain, spec=rule)

    def add_element(self, name: str, key: str, value: str | None = None) -> None:
        self.add_elements(name, ((key, value),))

    def add_elements(self, name: str, items: Iterable[tuple[str, str | None]]) -> None:
        items = tuple(items)
        if items:
            self.ops.append(Op("add", "element", self.family, self.table, name, items=items))

    def delete_element(self, name: str, key: str) -> None:
        self.delete_elements(name, (key,))

    def delete_elements(self, name: str, keys: Iterable[str]) -> None:
        items = tuple((k, None) for k in keys)
        if items:
            self.ops.append(Op("delete", "element", self.family, self.table, name, items=items))

    def render(self) -> str:
        """The text for ``nft -f -``; consecutive element ops on one set share a line."""
        return "".join(line + "\n" for line in _render_lines(self.ops))


def _render_lines(ops: Sequence[Op]) -> Iterable[str]:
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.kind != "element":
            yield _render_one(op)
            i += 1
            continue
        items: list[str] = []
        while (
            i < len(ops)
            and ops[i].kind == "element"
            and ops[i].verb == op.verb
            and ops[i].name == op.name
        ):
            items.extend(
                k if v is None or op.verb == "delete" else f"{k} : {v}" for k, v in ops[i].items
            )
            i += 1
        for start in range(0, len(items), _ELEMENTS_PER_LINE):
            chunk = ", ".join(items[start : start + _ELEMENTS_PER_LINE])
            yield f"{op.verb} element {op.target()} {{ {chunk} }}"


def _render_one(op: Op) -> str:
    if op.kind == "rule":
        return f"add rule {op.target()} {op.spec}"
    kind = op.kind
    if op.spec and op.verb == "add":
        return f"add {kind} {op.target()} {{ {op.spec} }}"
    return f"{op.verb} {kind} {op.target()}"


class NftRunner(Protocol):
    """The seam: applies a transaction atomically, or raises :class:`~podnet.errors.NftError`."""

    def run(self, tx: Transaction) -> None: ...


@dataclass(frozen=True)
class ExecNftRunner:
    """Runs ``<prefix> nft -f -`` (e.g. prefix ``["ip", "netns", "exec", "node-0"]``)."""

    prefix: tuple[str, ...] = ()
    nft: str = "nft"

    def run(self, tx: Transaction) -> None:
        if not tx.ops:
            return
        self.run_text(tx.render())

    def run_text(self, text: str) -> None:
        argv = [*self.prefix, self.nft, "-f", "-"]
        try:
            proc = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)
        except FileNotFoundError as e:
            raise NotSupportedError(f"cannot run {argv[0]!r}: {e}") from e
        if proc.returncode != 0:
            raise nft_error(argv, proc.returncode, proc.stderr)

    def list_table(self, family: str, table: str) -> str:
        """``nft list table`` output (for tests and ``explain``); raises like :meth:`run`."""
        argv = [*self.prefix, self.nft, "list", "table", family, table]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        except FileNotFoundError as e:
            raise NotSupportedError(f"cannot run {argv[0]!r}: {e}") from e
        if proc.returncode != 0:
            raise nft_error(argv, proc.returncode, proc.stderr)
        return proc.stdout
