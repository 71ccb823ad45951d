"""PATCH bodies applied to an object: JSON patch, JSON merge patch, strategic merge patch,
and server-side apply (in :mod:`podnet.apiserver.apply`), chosen by the Content-Type.

Errors as ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`` returns them:
an undecodable body is 400 BadRequest with the decoder's message, a JSON patch that fails
(``test`` mismatch, missing path) 422 with the library's message, an unknown type 415.
Strategic merge follows ``k8s.io/apimachinery/pkg/util/strategicpatch/patch.go``
(``mergeMap``, ``mergeSlice``, ``mergePatchIntoOriginal``, ``normalizeElementOrder``) as
applied by the server (``MergeParallelList`` and ``IgnoreUnmatchedNulls`` on).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch  # type: ignore[import-untyped, unused-ignore]

from podnet.apiserver import errors, schemas
from podnet.apiserver.resources import Resource
from podnet.apiserver.schemas import Node
from podnet.apiserver.store.base import Obj

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
BUILTIN_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
MAX_JSON_PATCH_OPERATIONS = 10000

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"


def media_type(content_type: str) -> str:
    """The patch type of a Content-Type header (``; charset=utf-8`` dropped)."""
    return content_type.split(";", 1)[0].strip().lower()


def accepted_types(res: Resource) -> tuple[str, ...]:
    """The patch types served for ``res``: custom resources have no strategic merge."""
    return BUILTIN_TYPES if has_strategic_schema(res) else CUSTOM_TYPES


def has_strategic_schema(res: Resource) -> bool:
    return schemas.for_kind(res.group, res.version, res.kind) is not None


def apply_patch(res: Resource, current: Obj, patch_type: str, body: bytes) -> Obj:
    """``current`` patched (a new dict; ``current`` is left alone).

    Server-side apply is not a patch of ``current`` alone (it needs the field manager
    and force): callers send ``application/apply-patch+yaml`` to
    :func:`podnet.apiserver.apply.server_side_apply`; here it is refused as a
    programming error.
    """
    kind = media_type(patch_type)
    accepted = accepted_types(res)
    if kind not in accepted:
        raise unsupported(accepted)
    if kind == JSON_PATCH:
        return json_patch(current, body)
    if kind == MERGE_PATCH:
        try:
            patch = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise errors.bad_request("Invalid JSON Patch") from None  # ErrBadJSONPatch
        out = merge_patch(current, patch)
        if not isinstance(out, dict):
            raise errors.bad_request("Invalid JSON Patch")
        return out
    if kind == STRATEGIC_MERGE_PATCH:
        node = schemas.for_kind(res.group, res.version, res.kind)
        assert node is not None  # accepted_types checked it
        patch = decode_json(body)
        if not isinstance(patch, dict):
            raise errors.bad_request(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
            )
        return strategic_merge_patch(current, patch, node)
    raise ValueError("server-side apply goes through apply.server_side_apply")


def unsupported(accepted: tuple[str, ...]) -> errors.ApiError:
    """``negotiation.NewUnsupportedMediaTypeError``, as the PATCH handler returns it."""
    return errors.unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.bad_request(str(e)) from None


# -- RFC 6902 ---------------------------------------------------------------------------


def json_patch(current: Obj, body: bytes) -> Obj:
    """RFC 6902 through the ``jsonpatch`` library. An operation that fails is the 422 of
    ``NewGenericServerResponse`` (its fixed message, as kubectl prints: "The request is
    invalid: the server rejected our request due to an error in our request")."""
    ops = decode_json(body)
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise errors.bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise errors.ApiError(
            413,
            "RequestEntityTooLarge",
            f"Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    try:
        out = jsonpatch.JsonPatch(ops).apply(current, in_place=False)
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
    ):
        raise unprocessable() from None
    if not isinstance(out, dict):
        raise unprocessable()
    return out


def unprocessable() -> errors.ApiError:
    return errors.ApiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        details={},
    )


# -- RFC 7386 ---------------------------------------------------------------------------


def merge_patch(current: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch: objects merge key by key, null deletes, anything else
    (arrays too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(current) if isinstance(current, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# -- strategic merge patch ----------------------------------------------------------------


class _PatchError(Exception):
    def __init__(self, error: errors.ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def _bad(message: str) -> _PatchError:
    return _PatchError(errors.bad_request(message))


def strategic_merge_patch(current: Obj, patch: Obj, node: Node | None) -> Obj:
    """``StrategicMergeMapPatchUsingLookupPatchMeta``: ``patch`` merged into a copy of
    ``current`` by the patch metadata under ``node``."""
    try:
        out = _merge_map(copy.deepcopy(current), copy.deepcopy(patch), node)
    except _PatchError as e:
        raise e.error from None
    return out


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], node: Node | None
) -> dict[str, Any]:
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise _PatchError(
            errors.internal(f"Unknown patch type: {directive} in map: {patch}")
            if directive != "merge"
            else errors.internal(f"Unknown patch type: merge in map: {patch}")
        )
    _retain_keys(original, patch)
    _set_element_order(original, patch, node)
    for key, pv in list(patch.items()):
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = key[len(DELETE_FROM_PRIMITIVE_LIST) :]
        if pv is None:
            original.pop(key, None)
            continue
        sub = node.field(key) if node is not None else None
        if key not in original or not _same_kind(original[key], pv):
            if not delete_list:
                _take(original, key, pv)
            continue
        ov = original[key]
        strategies = sub.patch_strategies if sub is not None else ()
        if isinstance(ov, dict):
            original[key] = pv if "replace" in strategies else _merge_map(ov, pv, sub)
        elif delete_list:
            original[key] = [v for v in ov if v not in pv]
        elif "merge" in strategies and sub is not None:
            original[key] = _merge_list(ov, pv, sub)
        else:
            _take(original, key, pv)
    return original


def _same_kind(a: Any, b: Any) -> bool:
    return (isinstance(a, dict) and isinstance(b, dict)) or (
        isinstance(a, list) and isinstance(b, list)
    )


_DROP = object()


def _new_value(v: Any) -> Any:
    """A value the original lacks, as stored: nested nulls dropped
    (``discardNullValuesFromPatch``), maps carrying ``$patch`` dropped
    (``removeDirectives``, which returns ``_DROP`` for ``v`` itself) and the other
    ``$`` directives with them (decoding into the typed object drops those upstream)."""
    if isinstance(v, dict):
        if DIRECTIVE in v:
            return _DROP
        out = {}
        for k, x in v.items():
            if x is None or k.startswith("$"):
                continue
            y = _new_value(x)
            if y is not _DROP:
                out[k] = y
        return out
    if isinstance(v, list):
        return [y for y in (_new_value(x) for x in v) if y is not _DROP]
    return v


def _take(original: dict[str, Any], key: str, pv: Any) -> None:
    v = _new_value(pv)
    if v is _DROP:
        original.pop(key, None)
    else:
        original[key] = v


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """``$retainKeys``: fields of the original not in the list are cleared; every field
    the patch sets must be in it (``applyRetainKeysDirective``)."""
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise _bad("invalid patch: the value of $retainKeys must be a list")
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if k not in keep:
            raise _bad("doesn't match the patch format for retainKeys")
    for k in list(original):
        if k not in keep:
            del original[k]


def _set_element_order(original: dict[str, Any], patch: dict[str, Any], node: Node | None) -> None:
    """``mergePatchIntoOriginal``: each ``$setElementOrder/<field>`` list merged together
    with its patch list, then sorted: the order list first, then the live order."""
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        field = key[len(SET_ELEMENT_ORDER) :]
        if not isinstance(order, list):
            raise _bad("invalid patch: $setElementOrder must be a list")
        sub = node.field(field) if node is not None else None
        merge_key = sub.merge_key if sub is not None else ""
        in_patch = field in patch
        pv = patch.pop(field, None)
        ov = original.get(field)
        if pv is not None and not isinstance(pv, list):
            raise _bad("invalid patch: the list to order is not a list")
        if ov is not None and not isinstance(ov, list):
            ov = None
        _check_order(pv or [], order, merge_key)
        if not in_patch and ov is None:
            continue
        if not in_patch:
            merged = list(ov or [])
        elif ov is None:
            merged = list(pv or [])
        elif sub is not None and "merge" in sub.patch_strategies:
            merged = _merge_list(ov, pv or [], sub)
        else:
            merged = list(pv or [])
        patch_items, server_only = _partition(merged, order, merge_key)
        original[field] = _normalize_order(patch_items, server_only, order, ov or [], merge_key)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """``validatePatchWithSetOrderList``: the patch's items appear in the order list,
    in the same relative order."""
    idx = [_index(order, item, merge_key) for item in patch_list if not _is_directive(item)]
    if any(i < 0 for i in idx) or idx != sorted(idx):
        raise _bad(
            "doesn't match the patch format for $setElementOrder list: the order of the "
            "patch list and the $setElementOrder list differ"
        )


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and DIRECTIVE in item


def _merge_list(original: list[Any], patch: list[Any], node: Node) -> list[Any]:
    """``mergeSlice`` for a list with patch strategy merge."""
    if not original and not patch:
        return original
    merge_key = node.merge_key
    maps = any(isinstance(v, dict) for v in original + patch)
    if not maps:
        merged: list[Any] = []
        for v in original + patch:
            if v not in merged:
                merged.append(v)
        order_patch = patch
    else:
        if not merge_key:
            raise _PatchError(errors.internal("cannot merge lists without merge key"))
        original, patch = _special_elements(original, patch, merge_key)
        items = node.items()
        merged = list(original)
        for pv in patch:
            if not isinstance(pv, dict) or merge_key not in pv:
                raise _PatchError(
                    errors.internal(f"map: {pv} does not contain declared merge key: {merge_key}")
                )
            i = _find(merged, merge_key, pv[merge_key])
            if i >= 0 and isinstance(merged[i], dict):
                merged[i] = _merge_map(merged[i], pv, items)
            else:
                merged.append(_new_value(pv))
        order_patch = patch
    patch_items, server_only = _partition(merged, order_patch, merge_key)
    return _normalize_order(patch_items, server_only, order_patch, original, merge_key)


def _special_elements(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """``mergeSliceWithSpecialElements``: ``{$patch: delete, <key>: v}`` removes the
    item, ``{$patch: replace}`` makes the rest of the patch list the whole list."""
    rest: list[Any] = []
    replace = False
    for v in patch:
        if not isinstance(v, dict) or DIRECTIVE not in v:
            rest.append(v)
            continue
        d = v[DIRECTIVE]
        if d == "delete":
            if merge_key not in v:
                raise _PatchError(
                    errors.internal(f"map: {v} does not contain declared merge key: {merge_key}")
                )
            original = [
                o
                for o in original
                if not (isinstance(o, dict) and o.get(merge_key) == v[merge_key])
            ]
        elif d == "replace":
            replace = True
        elif d == "merge":
            raise _PatchError(errors.internal("merging lists cannot yet be specified in the patch"))
        else:
            raise _PatchError(errors.internal(f"Unknown patch type: {d} in map: {v}"))
    if replace:
        return [v for v in (_new_value(x) for x in rest) if v is not _DROP], []
    return original, rest


def _find(items: list[Any], merge_key: str, value: Any) -> int:
    for i, v in enumerate(items):
        if isinstance(v, dict) and v.get(merge_key) == value:
            return i
    return -1


def _index(items: list[Any], item: Any, merge_key: str) -> int:
    if merge_key and isinstance(item, dict):
        return _find(items, merge_key, item.get(merge_key))
    try:
        return items.index(item)
    except ValueError:
        return -1


def _partition(
    merged: list[Any], present: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """Items also in ``present`` (the patch or the order list) and the server-only rest."""
    inp: list[Any] = []
    out: list[Any] = []
    for v in merged:
        (inp if _index(present, v, merge_key) >= 0 else out).append(v)
    return inp, out


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
) -> list[Any]:
    """``normalizeElementOrder`` + ``mergeSortedSlice``: each list sorted by its order,
    then the server-only items slotted in where the live list had them."""
    patch_items = sorted(patch_items, key=lambda v: _index(patch_order, v, merge_key))
    server_only = sorted(server_only, key=lambda v: _index(server_order, v, merge_key))
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        else:
            li = _index(server_order, server_only[i], merge_key)
            ri = _index(server_order, patch_items[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out
