"""``fieldValidation``: what happens to fields the kind's schema does not have.

kube-apiserver decodes a body into the typed object, so unknown fields are dropped;
``fieldValidation`` says whether that is an error (``Strict``: 400 ``Deployment in
version "v1" cannot be handled as a Deployment: strict decoding error: unknown field
"spec.foo"``), a warning header (``Warn``, the default since 1.27)
or silent (``Ignore``) (``endpoints/handlers/rest.go`` and the KEP-2885 wording). The
schemas are the ones podnet validates manifests with (kubernetes-validate's strict
OpenAPI schemas); a kind without one keeps every field. A custom resource is checked
against its CRD version's structural schema instead (apiextensions-apiserver
``customresource_handler.go`` ``unstructuredSchemaCoercer.apply``: the fields pruning
drops, ``pruning.PruneWithOptions`` with ``TrackUnknownFieldPaths``, sorted, then those
of ``metadata``, ``objectmeta.GetObjectMetaWithOptions`` with
``ReturnUnknownFieldPaths``), so ``x-kubernetes-preserve-unknown-fields`` keeps what
it covers.
"""

from __future__ import annotations

import copy
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.crd import schema as crd_schema
from podnet.apiserver.resources import custom_for
from podnet.manifests import schema as manifest_schema

MODES = ("Strict", "Warn", "Ignore")
Schema = dict[str, Any]


def _defs() -> dict[str, Schema]:
    defs: dict[str, Schema] = manifest_schema._definitions()["$defs"]
    return defs


def _resolve(node: Schema) -> Schema:
    for _ in range(32):  # $ref chains are short; never loop on a bad one
        ref = node.get("$ref")
        if not isinstance(ref, str) or "#/$defs/" not in ref:
            return node
        target = _defs().get(ref.rsplit("/", 1)[1])
        if target is None:
            return {}
        node = target
    return node


def _walk(value: Any, node: Schema, path: str, found: list[str], *, drop: bool) -> None:
    node = _resolve(node)
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if isinstance(props, dict):
            for key in list(value):
                sub = props.get(key)
                where = f"{path}.{key}" if path else key
                if isinstance(sub, dict):
                    _walk(value[key], sub, where, found, drop=drop)
                elif isinstance(extra, dict):
                    _walk(value[key], extra, where, found, drop=drop)
                elif extra is not True:
                    found.append(where)
                    if drop:
                        del value[key]
        elif isinstance(extra, dict):
            for key, item in value.items():
                _walk(item, extra, f"{path}.{key}" if path else key, found, drop=drop)
    elif isinstance(value, list):
        items = node.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk(item, items, f"{path}[{i}]", found, drop=drop)


def unknown_fields(obj: dict[str, Any], *, drop: bool = False) -> list[str]:
    """The paths of fields ``obj``'s kind does not have (``spec.containers[0].foo``);
    ``drop`` removes them from ``obj``, as decoding into the typed object does."""
    cr = custom_for(obj.get("apiVersion"), obj.get("kind"))
    if cr is not None and cr.custom is not None:
        return _custom_unknown(obj, cr.custom.schema, drop=drop)
    kind_schema = manifest_schema._schema(str(obj.get("kind")), str(obj.get("apiVersion")))
    if kind_schema is None:
        return []
    found: list[str] = []
    _walk(obj, kind_schema, "", found, drop=drop)
    return found


def _custom_unknown(obj: dict[str, Any], schema: Schema, *, drop: bool) -> list[str]:
    """A custom resource's unknown fields: what its version's schema prunes (none
    without a schema: nothing to prune by), then its ``metadata``'s (ObjectMeta's)."""
    return crd_schema.unknown_fields(obj if drop else copy.deepcopy(obj), schema)


def validation_mode(value: str) -> str:
    """The ``fieldValidation`` query parameter (empty: Warn); another value is the 400
    every writing verb answers (create, update and patch alike)."""
    if value == "":
        return "Warn"
    if value not in MODES:
        raise errors.bad_request(
            f'fieldValidation: Unsupported value: "{value}": supported values: '
            '"Ignore", "Strict", "Warn"'
        )
    return value


def apply_validation(obj: dict[str, Any], mode: str) -> list[str]:
    """Apply ``fieldValidation`` (empty: Warn) to ``obj`` (unknown fields are dropped
    unless Strict refuses them); returns the warnings to send. A patch's unknown fields
    are found on the patched object (registry.patch, given :func:`validation_mode`): its
    Strict error has no kind prefix, as patch.go reports the converter's error as is."""
    mode = validation_mode(mode)
    found = unknown_fields(obj, drop=mode != "Strict")
    if not found:
        return []
    if mode == "Strict":
        # a create or update decodes the body, and a decoding error is reported with
        # the kind and version it was decoded as (endpoints/handlers/rest.go
        # transformDecodeError); a patch's strict error has no such prefix (patch.go)
        kind = str(obj.get("kind"))
        version = str(obj.get("apiVersion")).rsplit("/", 1)[-1]
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: '
            "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in found)
        )
    if mode == "Warn":
        return [f'unknown field "{f}"' for f in found]
    return []
