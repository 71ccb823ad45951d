"""Whether a table in the kernel is still what podnet wants: its shape, compared.

kube-proxy's full sync (``pkg/proxy/nftables/proxier.go`` ``syncProxyRules``: a full
sync when ``needFullSync`` or ``proxyutil.FullSyncPeriod`` has passed) rewrites its
table without looking; podnet also looks, so an edit is reported, not silently undone.
What podnet wants is the full transaction it would apply now; what the kernel has is
``nft -j list table``. Compared: the chains (base declaration, rule count) and the sets
and maps (names, and each element key, with its data for maps). Rule text is not
compared: nft lists a rule in its own normal form, not as written (an edited rule of
the same count is caught by the listing hash, :mod:`podnet.live.sync`). Interval sets
are compared by name only: the kernel merges and re-splits their ranges; so are
dynamic sets (``flags dynamic``), which rules fill, and whose elements
:func:`static_listing` leaves out of a listing's hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.dataplane.nft.transaction import Transaction

# nft's priority names (nft(8), "PRIORITY"; inet/ip/ip6 values), as -j lists numbers
_PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
}


@dataclass
class Shape:
    """What a table holds, comparable between a transaction and a JSON listing."""

    chains: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (base, rules)
    sets: dict[str, frozenset[str] | None] = field(default_factory=dict)  # None: not compared


def priority(text: str) -> int:
    """``"filter + 1"`` -> 1, ``"dstnat"`` -> -100, ``"-90"`` -> -90."""
    parts = text.replace("+", " + ").replace(" - ", " + -").split()
    total = 0
    for part in parts:
        if part != "+":
            total += _PRIORITIES[part] if part in _PRIORITIES else int(part)
    return total


def _base(type_: str, hook: str, prio: int, policy: str) -> str:
    return f"{type_}/{hook}/{prio}/{policy or 'accept'}" if type_ else ""


def _parse_base(spec: str) -> str:
    """``type filter hook prerouting priority raw; policy accept;`` ->
    ``filter/prerouting/-300/accept``."""
    if not spec:
        return ""
    words: dict[str, str] = {}
    for clause in spec.split(";"):
        key, _, value = clause.strip().partition(" ")
        if key == "type":
            type_, _, rest = value.partition(" hook ")
            hook, _, prio = rest.partition(" priority ")
            words.update(type=type_, hook=hook, prio=prio)
        elif key == "policy":
            words["policy"] = value
    return _base(words["type"], words["hook"], priority(words["prio"]), words.get("policy", ""))


def _norm_text(key: str) -> str:
    return key.replace('"', "").replace(" ", "")


def shape_of_transaction(tx: Transaction, interval_sets: Iterable[str] = ()) -> Shape:
    """The table a full transaction (:func:`~podnet.dataplane.nft.objects.full_transaction`)
    leaves behind."""
    shape = Shape()
    skip = set(interval_sets)
    elements: dict[str, set[str]] = {}
    for op in tx.ops:
        if op.verb != "add":
            continue
        if op.kind == "chain":
            shape.chains[op.name] = (_parse_base(op.spec), 0)
        elif op.kind == "rule":
            base, n = shape.chains[op.name]
            shape.chains[op.name] = (base, n + 1)
        elif op.kind in ("set", "map"):
            if "interval" in op.spec or "dynamic" in op.spec:  # the kernel's to fill
                skip.add(op.name)
            elements.setdefault(op.name, set())
        elif op.kind == "element":
            got = elements.setdefault(op.name, set())
            for k, v in op.items:
                got.add(_norm_text(k if v is None else f"{k}:{v}"))
    for name, keys in elements.items():
        shape.sets[name] = None if name in skip else frozenset(keys)
    return shape


def _norm_json(value: Any) -> str:
    """An element or datum of ``nft -j`` as podnet writes it (without quotes/spaces)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, list):  # a map element: [key, data]
        return ":".join(_norm_json(v) for v in value)
    if isinstance(value, dict):
        ((kind, body),) = value.items()
        if kind == "concat":
            return ".".join(_norm_json(v) for v in body)
        if kind == "elem":
            return _norm_json(body["val"])
        if kind == "prefix":
            return f"{body['addr']}/{body['len']}"
        if kind == "range":
            return "-".join(_norm_json(v) for v in body)
        if kind in ("goto", "jump"):
            return f"{kind}{body['target']}"
        if body is None:  # a verdict: accept, drop
            return str(kind)
    return repr(value)


def shape_of_listing(objects: Sequence[Mapping[str, Any]], family: str, table: str) -> Shape | None:
    """The shape of ``family table`` in ``nft -j list ...``'s ``nftables`` array; None
    when the table is not there."""
    found = False
    shape = Shape()
    for obj in objects:
        ((kind, body),) = obj.items()
        if kind == "metainfo" or body.get("family") != family:
            continue
        if kind == "table":
            found = found or body.get("name") == table
            continue
        if body.get("table") != table:
            continue
        if kind == "chain":
            prio = body.get("prio", 0)
            base = _base(body.get("type", ""), body.get("hook", ""), prio, body.get("policy", ""))
            shape.chains[body["name"]] = (base, shape.chains.get(body["name"], ("", 0))[1])
        elif kind == "rule":
            base, n = shape.chains.get(body["chain"], ("", 0))
            shape.chains[body["chain"]] = (base, n + 1)
        elif kind in ("set", "map"):
            if "interval" in body.get("flags", ()):
                shape.sets[body["name"]] = None
            else:
                shape.sets[body["name"]] = frozenset(_norm_json(e) for e in body.get("elem", ()))
    return shape if found else None


def static_listing(text: str) -> str:
    """``nft list table`` text without the elements of dynamic sets: packets add those
    (the policy table's ``denied`` sets), so only the rest says whether someone edited
    the table. nft lists a set's ``flags`` before its ``elements = { ... }``."""
    out: list[str] = []
    dynamic = skipping = False
    for line in text.splitlines():
        word = line.strip()
        if word.startswith(("set ", "map ")) and word.endswith("{"):
            dynamic = False
        elif word.startswith("flags ") and "dynamic" in word:
            dynamic = True
        elif dynamic and word.startswith("elements = {"):
            skipping = True
        if not skipping:
            out.append(line)
        elif word.endswith("}"):
            skipping = False
    return "\n".join(out)


def compare(want: Shape, got: Shape | None) -> str | None:
    """The first difference, in words for a log line; None when they agree."""
    if got is None:
        return "is missing"
    for name in sorted(set(want.chains) | set(got.chains)):
        w, g = want.chains.get(name), got.chains.get(name)
        if w is None:
            return f"has a chain {name} podnet did not make"
        if g is None:
            return f"lacks its chain {name}"
        if w[0] != g[0]:
            return f"chain {name} is declared {g[0] or 'regular'}, want {w[0] or 'regular'}"
        if w[1] != g[1]:
            return f"chain {name} has {g[1]} rules, want {w[1]}"
    for name in sorted(set(want.sets) | set(got.sets)):
        if name not in want.sets:
            return f"has a set {name} podnet did not make"
        if name not in got.sets:
            return f"lacks its set {name}"
        ws, gs = want.sets[name], got.sets[name]
        if ws is None or gs is None:
            continue
        extra, missing = gs - ws, ws - gs
        if extra or missing:
            return (
                f"set {name} has {len(extra)} element(s) podnet did not add"
                f" and lacks {len(missing)}"
                + (f" (e.g. {sorted(extra or missing)[0]})" if extra or missing else "")
            )
    return None
