"""The rules of one custom resource's writes, reached from the registry through
:mod:`podnet.apiserver.validation` and :mod:`podnet.apiserver.strategy`
(apiextensions-apiserver ``pkg/registry/customresource/strategy.go``,
``status_strategy.go``, ``etcd.go`` ScaleREST; decoding's pruning and defaulting in
``pkg/apiserver/customresource_handler.go`` ``schemaCoercingConverter`` /
``unstructuredDefaulter``).
"""

from __future__ import annotations

import copy
from typing import Any

from podnet.apiserver.crd import schema as crdschema
from podnet.apiserver.errors import bad_request, method_not_allowed
from podnet.apiserver.resources import Resource, by_path

Obj = dict[str, Any]


def check_create(res: Resource) -> None:
    """customresource_handler.go: no new objects while the CRD is being deleted (the
    served table's current entry is asked: ``res`` may be an older one)."""
    now = by_path(res.group, res.version, res.plural)
    if now is None or (now.custom is not None and now.custom.terminating):
        raise method_not_allowed(
            "create not allowed while custom resource definition is terminating"
        )


def decode(res: Resource, obj: Obj, field_validation: str) -> list[str]:
    """Prune ``obj`` to the version's schema and default it, in place, as decoding a
    request body does; returns the ``unknown field`` warnings (Strict: a 400)."""
    assert res.custom is not None
    schema = res.custom.schema
    if not schema:
        return []
    found = crdschema.unknown_fields(obj, schema)
    shown = [f'unknown field "{p}"' for p in found]
    if found and field_validation == "Strict":
        raise bad_request("strict decoding error: " + ", ".join(shown))
    crdschema.default(obj, schema)
    crdschema.prune(obj, schema)  # a default may bring fields the schema drops
    return [] if field_validation == "Ignore" else shown


def causes(res: Resource, obj: Obj) -> list[tuple[str, str, str]]:
    """The schema's complaints about ``obj`` (customResourceValidator.Validate)."""
    assert res.custom is not None
    return crdschema.validate(obj, res.custom.schema) if res.custom.schema else []


def prepare_update(res: Resource, old: Obj, new: Obj) -> Obj:
    """customResourceStrategy.PrepareForUpdate: with a status subresource the status is
    the stored one; any change outside metadata bumps the generation."""
    out = copy.deepcopy(new)
    meta = out.setdefault("metadata", {})
    old_meta = old["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if "status" in res.subresources:
        if "status" in old:
            out["status"] = copy.deepcopy(old["status"])
        else:
            out.pop("status", None)
    set_generation(res, old, out)
    return out


def set_generation(res: Resource, old: Obj, out: Obj) -> None:
    """Compared as decoded (pruned, defaulted), as upstream compares decoded objects:
    an unknown field sent again, or a default spelled out, is no change."""

    def body(o: Obj) -> Obj:
        return {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}

    new_body = body(out)
    if new_body != body(old) and res.custom is not None and res.custom.schema:
        new_body = copy.deepcopy(new_body)
        decode(res, new_body, "Ignore")
    gen = old["metadata"].get("generation", 1)
    out["metadata"]["generation"] = gen + 1 if new_body != body(old) else gen


def _get(obj: Any, path: str) -> Any:
    for part in path.strip(".").split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _set(obj: Obj, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    for part in parts[:-1]:
        nxt = obj.get(part)
        if not isinstance(nxt, dict):
            nxt = obj[part] = {}
        obj = nxt
    obj[parts[-1]] = value


def to_scale(res: Resource, obj: Obj) -> Obj:
    """The autoscaling/v1 Scale of a custom resource, from the CRD's scale paths
    (etcd.go scaleFromCustomResource)."""
    assert res.custom is not None and res.custom.scale is not None
    scale = res.custom.scale
    meta = obj["metadata"]
    status: Obj = {"replicas": _get(obj, str(scale.get("statusReplicasPath", ""))) or 0}
    if scale.get("labelSelectorPath"):
        selector = _get(obj, str(scale["labelSelectorPath"]))
        if isinstance(selector, str) and selector:
            status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": _get(obj, str(scale.get("specReplicasPath", ""))) or 0},
        "status": status,
    }


def from_scale(res: Resource, old: Obj, scale_obj: Obj) -> Obj:
    """``old`` with the Scale's replicas at specReplicasPath (a change bumps the
    generation, as any spec change of a custom resource)."""
    assert res.custom is not None and res.custom.scale is not None
    path = str(res.custom.scale.get("specReplicasPath", ".spec.replicas"))
    replicas = (scale_obj.get("spec") or {}).get("replicas", 0)
    out = copy.deepcopy(old)
    rv = (scale_obj.get("metadata") or {}).get("resourceVersion")
    out["metadata"]["resourceVersion"] = rv or ""
    if _get(out, path) != replicas:
        _set(out, path, replicas)
        out["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
    return out
