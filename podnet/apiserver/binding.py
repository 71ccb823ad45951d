"""POST pods/<name>/binding: assign a pod to a node (pkg/registry/core/pod/storage/
storage.go BindingREST.Create, assignPod, setPodNodeAndMetadata).

A pod's spec.nodeName may not change through an update (ValidatePodUpdate), so the
scheduler binds through this subresource: one compare-and-swap write that sets
spec.nodeName, merges the binding's annotations and sets ``PodScheduled=True``. A pod
being deleted, already bound, or with scheduling gates is refused with a Conflict, as
kubectl shows "Operation cannot be fulfilled on pods/binding ...".
"""

from __future__ import annotations

import copy
from typing import Any

from podnet.apiserver.errors import bad_request, conflict, not_found
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.base import KeyMissing, Obj, VersionMismatch

PODS = by_kind("", "Pod")
_RETRIES = 5


def bind_pod(registry: Any, namespace: str, name: str, binding: Obj) -> Obj:
    """Bind ``namespace/name`` as ``binding`` (a v1 Binding) says; returns the pod."""
    assert PODS is not None
    meta = binding.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise bad_request("name in URL does not match name in Binding object")
    target = binding.get("target") or {}
    node = target.get("name")
    if target.get("kind") not in (None, "", "Node") or not node:
        raise bad_request(f"invalid target kind or name: {target!r}")
    key = PODS.key(namespace, name)
    want_uid = meta.get("uid")
    for _ in range(_RETRIES):
        current = registry.store.get(key)
        if current is None:
            raise not_found("", "pods", name)
        cmeta = current["metadata"]
        spec = current.get("spec") or {}
        if want_uid and want_uid != cmeta.get("uid"):
            raise conflict(
                "",
                "pods/binding",
                name,
                f"Precondition failed: UID in precondition: {want_uid}, UID in object meta: "
                f"{cmeta.get('uid', '')}",
            )
        if cmeta.get("deletionTimestamp"):
            why = f"pod {name} is being deleted, cannot be assigned to a host"
            raise conflict("", "pods/binding", name, why)
        if spec.get("nodeName"):
            why = f'pod {name} is already assigned to node "{spec["nodeName"]}"'
            raise conflict("", "pods/binding", name, why)
        if spec.get("schedulingGates"):
            raise conflict(
                "", "pods/binding", name, f"pod {name} has non-empty .spec.schedulingGates"
            )
        out = copy.deepcopy(current)
        out["spec"]["nodeName"] = node
        if meta.get("annotations"):
            out["metadata"].setdefault("annotations", {}).update(meta["annotations"])
        status = out.setdefault("status", {})
        conds = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
        old = next(
            (c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None
        )
        cond: Obj = {"type": "PodScheduled", "status": "True"}
        cond["lastTransitionTime"] = (
            old["lastTransitionTime"]
            if old is not None and old.get("status") == "True" and old.get("lastTransitionTime")
            else registry.now()
        )
        status["conditions"] = [cond, *conds]
        try:
            stored: Obj = registry.store.update(key, out, expect_rv=int(cmeta["resourceVersion"]))
            return stored
        except VersionMismatch:
            continue
        except KeyMissing:
            raise not_found("", "pods", name) from None
    raise conflict("", "pods/binding", name, "the object has been modified; please retry")
