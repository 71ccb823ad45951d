"""Answers shaped from stored objects: what a DELETE returns."""

from __future__ import annotations

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
