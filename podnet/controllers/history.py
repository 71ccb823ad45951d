"""ControllerRevisions: the template history of StatefulSets and DaemonSets
(pkg/controller/history/controller_history.go; statefulset's getPatch/newRevision,
daemonset's constructHistory), which ``kubectl rollout history`` and ``undo`` read.

A revision stores the template as a strategic-merge patch that replaces it,
``{"spec": {"template": {..., "$patch": "replace"}}}``, numbered 1, 2, ... in the order
templates were used; going back to an older template renumbers its revision as the
newest. Revisions no pod uses beyond ``revisionHistoryLimit`` are deleted, oldest first.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import meta, name, namespace, owner_reference, safe_encode

REVISIONS: Resource = by_kind("apps", "ControllerRevision")  # type: ignore[assignment]
HASH_LABEL = "controller.kubernetes.io/hash"


def fnv1_32(data: bytes, h: int = 0x811C9DC5) -> int:
    """FNV-1 (multiply, then xor): Go's fnv.New32, which HashControllerRevision uses."""
    for b in data:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ b
    return h


def template_patch(template: Mapping[str, Any]) -> Obj:
    return {"spec": {"template": {**copy.deepcopy(dict(template)), "$patch": "replace"}}}


def revision_hash(data: Mapping[str, Any], collision_count: int | None) -> str:
    """HashControllerRevision: FNV-1 over the data as json.Marshal writes it (keys
    sorted, compact), then the collision count in decimal; safe-encoded."""
    h = fnv1_32(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        h = fnv1_32(str(collision_count).encode(), h)
    return safe_encode(str(h))


def revision_number(rev: Obj) -> int:
    return int(rev.get("revision") or 0)


def new_revision(
    parent: Obj,
    parent_res: Resource,
    rev_name: str,
    hash_: str,
    data: Obj,
    number: int,
    hash_label: str = HASH_LABEL,
) -> Obj:
    """NewControllerRevision: the template's labels plus the hash (StatefulSets label it
    ``controller.kubernetes.io/hash``, DaemonSets ``controller-revision-hash``)."""
    template = (parent.get("spec") or {}).get("template") or {}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels[hash_label] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": rev_name,
            "namespace": namespace(parent),
            "labels": labels,
            "ownerReferences": [owner_reference(parent, parent_res)],
        },
        "data": data,
        "revision": number,
    }


def stale_revisions(revisions: Sequence[Obj], keep: Collection[str], limit: int) -> list[Obj]:
    """truncateHistory: revisions not in ``keep`` (in use) beyond ``limit``, oldest first."""
    unused = sorted(
        (r for r in revisions if name(r) not in keep), key=lambda r: (revision_number(r), name(r))
    )
    return unused[: max(len(unused) - limit, 0)]


def ensure_revision(
    registry: Any,
    parent: Obj,
    parent_res: Resource,
    owned: Sequence[Obj],
    rev_name: str,
    hash_: str,
    data: Obj,
    hash_label: str = HASH_LABEL,
) -> int:
    """getStatefulSetRevisions: the revision named ``rev_name`` exists as the newest,
    else an older one is renumbered as the newest (a rollback), else it is created;
    returns its number."""
    top = max((revision_number(r) for r in owned), default=0)
    existing = next((r for r in owned if name(r) == rev_name), None)
    ns = namespace(parent)
    if existing is not None:
        if revision_number(existing) == top:
            return top  # the newest already: the template has not changed
        fresh = copy.deepcopy(existing)  # a rollback: it becomes the newest
        fresh["revision"] = top + 1
        registry.update(REVISIONS, ns, rev_name, fresh)
        return top + 1
    try:
        registry.create(
            REVISIONS,
            ns,
            new_revision(parent, parent_res, rev_name, hash_, data, top + 1, hash_label),
        )
    except ApiError as e:
        if e.reason != "AlreadyExists":
            raise
        current = registry.get(REVISIONS, ns, rev_name)
        if meta(current).get("ownerReferences") and all(
            r.get("uid") != meta(parent).get("uid")
            for r in meta(current).get("ownerReferences") or ()
        ):
            raise  # another owner's revision under this name: a hash collision
        return revision_number(current)
    return top + 1
