"""Server-side apply and the field ownership behind it (``metadata.managedFields``).

Follows ``k8s.io/apimachinery/pkg/util/managedfields`` and structured-merge-diff's
``merge/update.go``: the applied configuration is merged into the live object by the
schema (list-type ``map`` merged by its keys, ``set`` as a union, ``atomic`` replaced;
maps key by key unless ``map-type: atomic``); the manager then owns exactly the fields
of its configuration; fields it owned before, left out now and owned by nobody else, are
removed; a field another manager owns whose value would change is a 409 Conflict unless
``force``, which moves ownership. Non-apply writes record an ``Update`` entry
(:func:`track_update`) for the fields they added or changed, taking them from others.

Simplified, on purpose:
- Field sets follow ``typed/tofieldset.go`` and ``typed/compare.go``, but a struct (a
  schema with declared properties) missing on one side counts as present and empty, as
  Go's zero values make it, pointer or not: ``rollingUpdate`` is not a member of its own
  (``.`` absent) where upstream shows ``.``.
- A ``null`` in an applied configuration removes that field and is not owned.
- Pruning removes the dropped paths themselves; maps or lists left empty stay.
- List items missing a key field take its API default only for ``protocol`` (TCP).
- No ``last-applied-configuration`` upgrade, no cap of 10 update managers, no
  conversion between versions (one version is served per kind).
- ``status`` is not owned through the main resource, nor anything but ``status``
  through the ``status`` subresource (the strategies' reset fields).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from podnet.apiserver import errors, schemas
from podnet.apiserver.resources import Resource
from podnet.apiserver.schemas import Node
from podnet.apiserver.store.base import Obj

Element = tuple[str, str]  # ("f", name) | ("k", '{"name":"x"}') | ("v", '"a"') | ("i", "3")
Path = tuple[Element, ...]
ManagerKey = tuple[str, str, str]  # manager, operation, subresource

BEFORE_FIRST_APPLY = "before-first-apply"
_STRIPPED: frozenset[Path] = frozenset(
    {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)}
    | {
        (("f", "metadata"), ("f", name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)


def decode_applied(body: bytes | Obj) -> Obj:
    """An apply body (YAML or JSON bytes, or already decoded) as an object."""
    if isinstance(body, dict):
        return body
    try:
        doc = yaml.safe_load(body)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error decoding YAML: {e}") from None
    if not isinstance(doc, dict):
        raise errors.bad_request("error decoding YAML: the apply configuration is not an object")
    return doc


def server_side_apply(
    res: Resource,
    current: Obj | None,
    applied: Obj | bytes,
    manager: str,
    *,
    force: bool,
    now: str,
    subresource: str = "",
) -> Obj:
    """``current`` (None: the object is created) with the configuration ``applied`` by
    ``manager``; a new dict with its managedFields updated. Raises ApiError 400 for a
    bad configuration and 409 for conflicts."""
    config = decode_applied(applied)
    if not manager:
        raise errors.bad_request("PATCH apply requests need a fieldManager")
    if config.get("apiVersion") != res.group_version:
        raise errors.bad_request(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{config.get('apiVersion', '')}, expected: {res.group_version}"
        )
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    node = _schema_node(res)
    config = _scope(copy.deepcopy(config), subresource)
    live = copy.deepcopy(current) if current is not None else {}
    managers = _decode(live)
    if current is not None and not managers:
        # skipNonAppliedManager: the object's existing fields go to before-first-apply
        added, _, _ = compare({}, _strip(live, subresource), node)
        managers[(BEFORE_FIRST_APPLY, "Update", subresource)] = (
            res.group_version,
            now,
            _owned(added),
        )
    me: ManagerKey = (manager, "Apply", subresource)
    last = managers.get(me, ("", "", frozenset()))[2]
    mine = _owned(field_set(config, node))
    merged = _merge(_strip(live, subresource), config, node)
    others = frozenset().union(*(s for k, (_, _, s) in managers.items() if k != me))
    merged = _prune(merged, last - mine - others, mine | others)
    added, modified, removed = compare(_strip(live, subresource), merged, node)
    changed = added | modified
    conflicts = {k: s & changed for k, (_, _, s) in managers.items() if k != me and s & changed}
    if conflicts and not force:
        raise conflict_error(conflicts, managers)
    new_managers = dict(managers)
    for k, (v, t, s) in managers.items():
        if k != me:
            new_managers[k] = (v, t, s - changed - removed)
    # managedFieldsUpdater: the time moves when the apply changed the object
    prev = managers.get(me)
    t = prev[1] if prev is not None and merged == _strip(live, subresource) else now
    new_managers[me] = (res.group_version, t, mine)
    return _finish(live, merged, new_managers, me)


def _schema_node(res: Resource) -> Node | None:
    """The kind's schema for apply: a built-in's shipped definition, or a custom
    resource's CRD schema with ObjectMeta as its metadata (structured-merge-diff reads
    the CRD's x-kubernetes-list-type / -list-map-keys / -map-type; a list without a
    list type is atomic, as for every CRD)."""
    if res.custom is None:
        return schemas.for_kind(res.group, res.version, res.kind)
    root = _CR_NODES.get(res)
    if root is None or root[0] is not res.custom.schema:
        schema = dict(res.custom.schema)
        props = dict(schema.get("properties") or {})
        props["metadata"] = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        root = _CR_NODES[res] = (res.custom.schema, Node({**schema, "properties": props}))
    return root[1]


# One Node per served custom resource (its schema dict's identity says which version)
_CR_NODES: dict[Resource, tuple[Obj, Node]] = {}


def track_update(
    res: Resource,
    old: Obj | None,
    new: Obj,
    manager: str,
    now: str,
    *,
    subresource: str = "",
) -> Obj:
    """``new`` with an ``Update`` managedFields entry for ``manager`` owning the fields
    this write added or changed (others lose them). As upstream: a client may reset
    managedFields by sending ``[]``; an update of an object that has no managedFields
    is not tracked (``skipNonAppliedManager``)."""
    out = copy.deepcopy(new)
    meta = out.setdefault("metadata", {})
    sent = meta.get("managedFields")
    if sent == [] or sent == [{}]:
        meta.pop("managedFields", None)
        return out
    managers = _decode(out) if sent else {}
    if not managers and old is not None:
        managers = _decode(old)
        if not managers:
            meta.pop("managedFields", None)
            return out
    node = _schema_node(res)
    added, modified, removed = compare(
        _strip(old or {}, subresource), _strip(out, subresource), node
    )
    changed = _owned(added | modified)
    me: ManagerKey = (manager or "unknown", "Update", subresource)
    new_managers = {}
    for k, (v, t, s) in managers.items():
        if k != me:
            new_managers[k] = (v, t, s - changed - removed)
    # managedFieldsUpdater: the entry's time moves only when this write took fields
    prev = managers.get(me)
    mine = ((prev[2] if prev else frozenset()) - removed) | changed
    if prev is not None and not changed:
        new_managers[me] = (prev[0], prev[1], mine)
    elif changed:
        new_managers[me] = (res.group_version, now, mine)
    return _finish(out, out, new_managers, me)


# -- field sets -----------------------------------------------------------------------------


def field_set(value: Any, node: Node | None, path: Path = ()) -> set[Path]:
    """``typed.ToFieldSet``: scalars, atomic values, list items, and map entries that
    are not declared struct fields (or are null or empty) are members."""
    out: set[Path] = set()
    _to_set(value, node, path, out)
    return out


def _to_set(value: Any, node: Node | None, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if node is not None and node.atomic_map:
            out.add(path)
            return
        for k, v in value.items():
            sub = node.field(k) if node is not None else None
            p = (*path, ("f", k))
            _to_set(v, sub, p, out)
            declared = node is not None and node.declares(k)
            if v is None or v == {} or not declared:
                out.add(p)
    elif isinstance(value, list):
        kind = _list_type(node)
        if kind == "atomic":
            out.add(path)
            return
        items = node.items() if node is not None else None
        for i, v in enumerate(value):
            p = (*path, _item_element(kind, node, v, i))
            _to_set(v, items, p, out)
            out.add(p)
    else:
        out.add(path)


def compare(old: Any, new: Any, node: Node | None) -> tuple[set[Path], set[Path], set[Path]]:
    """``typed.Compare``: (added, modified, removed) paths from ``old`` to ``new``."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    _cmp(old, new, node, (), (added, modified, removed))
    return added, modified, removed


class _Missing:
    """Absent, as opposed to null."""


_MISSING: Any = _Missing()


def _cmp(
    a: Any,
    b: Any,
    node: Node | None,
    path: Path,
    acc: tuple[set[Path], set[Path], set[Path]],
    parents: tuple[bool, bool] = (True, True),
) -> None:
    added, modified, removed = acc
    if node is not None and node.is_struct:
        # Go zero values: a struct inside a present struct is there, empty
        if parents[0] and (a is _MISSING or a is None):
            a = {}
        if parents[1] and (b is _MISSING or b is None):
            b = {}
    present = (a is not _MISSING, b is not _MISSING)
    if isinstance(a, dict) or isinstance(b, dict):
        granular = not (node is not None and node.atomic_map)
        if granular and isinstance(a, dict | _Missing) and isinstance(b, dict | _Missing):
            da = a if isinstance(a, dict) else {}
            db = b if isinstance(b, dict) else {}
            if da or db:  # both empty: a leaf (emptyPromoteToLeaf)
                for k in {**da, **db}:
                    sub = node.field(k) if node is not None else None
                    va, vb = da.get(k, _MISSING), db.get(k, _MISSING)
                    _cmp(va, vb, sub, (*path, ("f", k)), acc, present)
                _mark(a, b, path, added, removed)
                return
    elif isinstance(a, list) or isinstance(b, list):
        kind = _list_type(node)
        if kind != "atomic" and isinstance(a, list | _Missing) and isinstance(b, list | _Missing):
            items = node.items() if node is not None else None
            la = _index_items(kind, node, a if isinstance(a, list) else [])
            lb = _index_items(kind, node, b if isinstance(b, list) else [])
            for e in {**la, **lb}:
                _cmp(la.get(e, _MISSING), lb.get(e, _MISSING), items, (*path, e), acc, present)
            _mark(a, b, path, added, removed)
            return
    if a is _MISSING:
        added.add(path)
    elif b is _MISSING:
        removed.add(path)
    elif a != b:
        modified.add(path)


def _mark(a: Any, b: Any, path: Path, added: set[Path], removed: set[Path]) -> None:
    if a is _MISSING:
        added.add(path)
    elif b is _MISSING:
        removed.add(path)


def _list_type(node: Node | None) -> str:
    return node.list_type if node is not None else "atomic"


def _item_element(kind: str, node: Node | None, item: Any, index: int) -> Element:
    if kind == "map" and node is not None and isinstance(item, dict):
        return ("k", _key_json(node, item))
    if kind == "set":
        return ("v", json.dumps(item, separators=(",", ":"), sort_keys=True))
    return ("i", str(index))


def _key_json(node: Node, item: dict[str, Any]) -> str:
    keys = {}
    for k in node.map_keys:
        v = item.get(k, schemas.KEY_DEFAULTS.get(k))
        if v is not None:
            keys[k] = v
    return json.dumps(keys, separators=(",", ":"), sort_keys=True)


def _index_items(kind: str, node: Node | None, items: list[Any]) -> dict[Element, Any]:
    return {_item_element(kind, node, v, i): v for i, v in enumerate(items)}


# -- merge and prune ------------------------------------------------------------------------


def _merge(live: Any, config: Any, node: Node | None) -> Any:
    if isinstance(config, dict):
        if not isinstance(live, dict) or (node is not None and node.atomic_map):
            return _drop_nulls(config)
        out = dict(live)
        for k, v in config.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(live.get(k), v, node.field(k) if node is not None else None)
        return out
    if isinstance(config, list):
        kind = _list_type(node)
        if not isinstance(live, list) or kind == "atomic":
            return _drop_nulls(config)
        items = node.items() if node is not None else None
        lhs = _index_items(kind, node, live)
        rhs = _index_items(kind, node, config)
        out_list: list[Any] = []
        done: set[Element] = set()
        pending = list(rhs)
        for e, v in lhs.items():
            if e not in rhs:
                out_list.append(v)
                continue
            if e in done:
                continue
            # the applied items up to this shared one, in the applied order
            while pending:
                r = pending.pop(0)
                done.add(r)
                out_list.append(_merge(lhs.get(r), rhs[r], items))
                if r == e:
                    break
        for r in pending:
            if r not in done:
                out_list.append(_merge(lhs.get(r), rhs[r], items))
        return out_list
    return config


def _drop_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


def _prune(obj: Obj, drop: frozenset[Path], keep: frozenset[Path]) -> Obj:
    """Remove each dropped path unless something below it is still owned (parents
    first: a list item is found by its key fields before they go)."""
    for path in sorted(drop, key=len):
        if any(len(k) > len(path) and k[: len(path)] == path for k in keep):
            continue
        _remove(obj, path)
    return obj


def _remove(obj: Any, path: Path) -> None:
    parent = _get(obj, path[:-1])
    kind, name = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif isinstance(parent, list):
        for i, v in enumerate(parent):
            if _matches(path[-1], v, i):
                del parent[i]
                return


def _get(obj: Any, path: Path) -> Any:
    for e in path:
        if e[0] == "f":
            obj = obj.get(e[1]) if isinstance(obj, dict) else None
        elif isinstance(obj, list):
            obj = next((v for i, v in enumerate(obj) if _matches(e, v, i)), None)
        else:
            return None
    return obj


def _matches(e: Element, v: Any, i: int) -> bool:
    kind, s = e
    if kind == "k":
        want = json.loads(s)
        return isinstance(v, dict) and all(
            v.get(k, schemas.KEY_DEFAULTS.get(k)) == x for k, x in want.items()
        )
    if kind == "v":
        return bool(json.dumps(v, separators=(",", ":"), sort_keys=True) == s)
    return str(i) == s


# -- managedFields --------------------------------------------------------------------------

Managers = dict[ManagerKey, tuple[str, str, frozenset[Path]]]


def _scope(obj: Obj, subresource: str) -> Obj:
    """The part of an applied configuration that is written: no status through the main
    resource, only status (and metadata) through the status subresource."""
    if subresource == "status":
        return {k: v for k, v in obj.items() if k in ("apiVersion", "kind", "metadata", "status")}
    obj.pop("status", None)
    return obj


def _strip(obj: Obj, subresource: str) -> Obj:
    out = {k: v for k, v in obj.items() if subresource == "status" or k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def _owned(paths: set[Path]) -> frozenset[Path]:
    return frozenset(p for p in paths if p and p not in _STRIPPED)


def _decode(obj: Obj) -> Managers:
    out: Managers = {}
    meta = obj.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, dict) else None
    for e in entries or ():
        if not isinstance(e, dict) or not isinstance(e.get("fieldsV1", {}), dict):
            continue
        key = (str(e.get("manager", "")), str(e.get("operation", "")), e.get("subresource", ""))
        paths: set[Path] = set()
        _decode_fields(e.get("fieldsV1") or {}, (), paths)
        out[key] = (str(e.get("apiVersion", "")), str(e.get("time", "")), frozenset(paths))
    return out


def _decode_fields(tree: dict[str, Any], path: Path, out: set[Path]) -> None:
    for k, sub in tree.items():
        if k == ".":
            out.add(path)
            continue
        kind, _, rest = k.partition(":")
        p = (*path, (kind, rest))
        if isinstance(sub, dict) and sub:
            _decode_fields(sub, p, out)
        else:
            out.add(p)


def encode_fields(paths: frozenset[Path] | set[Path]) -> dict[str, Any]:
    """FieldsV1: ``f:<field>``, ``k:<keys json>``, ``v:<value json>``, ``i:<index>``;
    a member that also has children carries ``".": {}``."""
    root: dict[str, Any] = {}
    for p in paths:
        t = root
        for kind, s in p:
            t = t.setdefault(f"{kind}:{s}", {})
        t["\0member"] = True
    return _render(root)


def _render(t: dict[str, Any]) -> dict[str, Any]:
    children = {k: v for k, v in t.items() if k != "\0member"}
    out: dict[str, Any] = {}
    if children and t.get("\0member"):
        out["."] = {}
    for k in sorted(children):
        out[k] = _render(children[k])
    return out


def _finish(live: Obj, merged: Obj, managers: Managers, me: ManagerKey) -> Obj:
    out = copy.deepcopy(merged)
    if "status" in live and "status" not in out:
        out["status"] = copy.deepcopy(live["status"])
    entries = []
    for (name, op, sub), (version, time, paths) in managers.items():
        if not paths and (name, op, sub) != me:
            continue
        if not paths and op == "Update":
            continue
        e: dict[str, Any] = {
            "manager": name,
            "operation": op,
            "apiVersion": version,
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields(paths),
        }
        if sub:
            e["subresource"] = sub
        entries.append(e)
    # sortEncodedManagedFields: operation, time, manager, apiVersion, subresource
    entries.sort(
        key=lambda e: (
            e["operation"],
            e["time"],
            e["manager"],
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    meta = out.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    return out


def path_string(path: Path) -> str:
    """``fieldpath.Path.String``: ``.spec.containers[name="web"].image``."""
    out = []
    for kind, s in path:
        if kind == "f":
            out.append("." + s)
        elif kind == "k":
            keys = json.loads(s)
            out.append(
                "["
                + ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in keys.items())
                + "]"
            )
        elif kind == "v":
            out.append(f"[={s}]")
        else:
            out.append(f"[{s}]")
    return "".join(out)


def _manager_text(key: ManagerKey, version: str) -> str:
    """``printManager``: Update managers say which version they wrote with."""
    name, op, sub = key
    text = json.dumps(name)
    if sub:
        text += f" with subresource {json.dumps(sub)}"
    if op == "Update":
        text += f" using {version}"
    return text


def conflict_error(
    conflicts: dict[ManagerKey, frozenset[Path]], managers: Managers
) -> errors.ApiError:
    """``internal/conflict.go`` ``NewConflictError``: one cause per conflicting field."""
    items = [
        (_manager_text(k, managers[k][0]), path_string(p))
        for k in sorted(conflicts)
        for p in sorted(conflicts[k], key=path_string)
    ]
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": f}
        for m, f in items
    ]
    if len(items) == 1:
        message = f"Apply failed with 1 conflict: conflict with {items[0][0]}: {items[0][1]}"
    else:
        lines = []
        for m in sorted({m for m, _ in items}):
            lines.append(f"conflicts with {m}:")
            lines.extend(f"- {f}" for mm, f in items if mm == m)
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return errors.ApiError(409, "Conflict", message, details={"causes": causes})
