"""Answers shaped from stored objects: what a DELETE returns, and a workload's Scale."""

from __future__ import annotations

from typing import Any

from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj

# The kinds whose delete answers with the object, not a Status (``ReturnDeletedObject:
# true`` in pkg/registry/core/{pod,service,serviceaccount}/storage; a namespace answers
# with itself while it terminates).
RETURN_DELETED = frozenset({("", "pods"), ("", "services"), ("", "serviceaccounts")})


def delete_answer(res: Resource, deleted: Obj) -> Obj:
    """What a DELETE answers: the object for the kinds that return it or while it is
    still being deleted (finalizers, graceful deletion), else Status Success
    (``registry/generic/registry/store.go`` ``finalizeDelete``)."""
    if deleted.get("kind") == "Status":
        return deleted
    meta = deleted.get("metadata", {})
    if (res.group, res.plural) in RETURN_DELETED or res.plural == "namespaces":
        return deleted
    if meta.get("deletionTimestamp") and meta.get("finalizers"):
        return deleted
    details: Obj = {"name": meta.get("name", ""), "kind": res.plural}
    if res.group:
        details["group"] = res.group
    if meta.get("uid"):
        details["uid"] = meta["uid"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def scale_of(res: Resource, obj: Obj) -> Obj:
    """An autoscaling/v1 Scale of a workload (``registry/apps/deployment/storage``
    ``scaleFromDeployment``); the selector as a label selector string."""
    if obj.get("kind") == "Scale":
        return obj
    meta = obj.get("metadata", {})
    spec = obj.get("spec", {}) or {}
    status = obj.get("status", {}) or {}
    out_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    scale_status: Obj = {"replicas": int(status.get("replicas", 0) or 0)}
    selector = _selector_string(spec.get("selector"))
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_meta,
        "spec": {"replicas": int(spec.get("replicas", 1 if res.kind != "Job" else 0) or 0)},
        "status": scale_status,
    }


def _selector_string(sel: Any) -> str:
    """metav1.LabelSelector -> its string form (``LabelSelectorAsSelector().String()``);
    ReplicationControllers have a plain map."""
    if not isinstance(sel, dict):
        return ""
    if "matchLabels" not in sel and "matchExpressions" not in sel:
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        key, op, vals = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(vals))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(vals))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts))
