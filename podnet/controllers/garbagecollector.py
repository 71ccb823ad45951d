"""The garbage collector (pkg/controller/garbagecollector: garbagecollector.go
attemptToDeleteItem, processDeletingDependentsItem, orphanDependents; graph_builder.go).

It watches every kind that can be listed, watched and deleted, and keeps an owner uid
-> dependents index, the graph builder's uidToNode in miniature. Three behaviours:

- background: a dependent whose every owner is gone (absent, or present under another
  uid) is deleted; one with a live owner only loses the references to gone owners;
- foreground: an owner being deleted with the ``foregroundDeletion`` finalizer has its
  dependents deleted, and loses the finalizer (so the API server removes it) once no
  dependent with ``blockOwnerDeletion`` is left;
- orphan: an owner being deleted with the ``orphan`` finalizer has its reference
  removed from every dependent, then loses the finalizer.

An owner missing from the cache is looked up live before its dependents are deleted,
as upstream verifies "virtual" nodes, because the owner's informer may lag.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import (
    Resource,
    add_custom_listener,
    all_resources,
    by_kind,
    remove_custom_listener,
)
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Controller, deleting, meta, name, namespace, uid
from podnet.controllers.informer import Informer, obj_key, split_key

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def watched_resources() -> list[Resource]:
    return [r for r in all_resources() if {"delete", "list", "watch"} <= set(r.verbs)]


def owner_refs(obj: Obj | None) -> list[dict[str, Any]]:
    if obj is None:
        return []
    return [r for r in meta(obj).get("ownerReferences") or () if isinstance(r, dict)]


def finalizers(obj: Obj) -> list[str]:
    return [str(f) for f in meta(obj).get("finalizers") or ()]


def classify_owners(
    refs: Sequence[dict[str, Any]], owners: Sequence[Obj | None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(solid, dangling, waitingForDependentsDeletion), as classifyReferences: ``owners``
    holds each reference's live owner or None when it is gone."""
    solid, dangling, waiting = [], [], []
    for ref, owner in zip(refs, owners, strict=True):
        if owner is None or uid(owner) != ref.get("uid"):
            dangling.append(ref)
        elif deleting(owner) and FOREGROUND in finalizers(owner):
            waiting.append(ref)
        else:
            solid.append(ref)
    return solid, dangling, waiting


def deletion_policy(obj: Obj) -> str:
    """A dependent goes the way its own finalizers ask, else in the background."""
    fins = finalizers(obj)
    if ORPHAN in fins:
        return "Orphan"
    if FOREGROUND in fins:
        return "Foreground"
    return "Background"


def blocks(dependent: Obj, owner_uid: str) -> bool:
    return any(
        r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in owner_refs(dependent)
    )


Item = tuple[Resource, str]  # (resource, namespace/name)


class GarbageCollector(Controller):
    name = "garbage-collector"

    def setup(self) -> None:
        self._lock = threading.Lock()
        self._resources = watched_resources()
        self._by_id = {self._rid(r): r for r in self._resources}
        self._infs: dict[Resource, Informer] = {}
        self._uids: dict[str, Item] = {}
        self._dependents: dict[str, set[Item]] = {}
        for res in self._resources:
            inf = self.informers.get(res)
            self._infs[res] = inf
            inf.add_handler(self._handler(res))
        # the collector watches each resource a CRD comes to serve (published by the
        # manager's crd-status controller), as the graph builder's resyncMonitors
        # follows discovery
        add_custom_listener(self.watch_new_resources)

    def watch_new_resources(self) -> None:
        """Start informers for the served resources not watched yet (new CRDs)."""
        if self._stop.is_set():
            return
        for res in watched_resources():
            rid = self._rid(res)
            with self._lock:
                if res in self._infs:
                    continue
                inf = self.informers.get(res)
                self._infs[res] = inf
                self._by_id[rid] = res
                self._resources.append(res)
            inf.add_handler(self._handler(res))
            inf.start()

    def stop(self) -> None:
        remove_custom_listener(self.watch_new_resources)
        super().stop()

    @staticmethod
    def _rid(res: Resource) -> str:
        return f"{res.plural}.{res.group}"

    def _handler(self, res: Resource) -> Any:
        def handle(type_: str, old: Obj | None, new: Obj | None) -> None:
            assert new is not None
            self._observe(res, type_, old, new)

        return handle

    def _observe(self, res: Resource, type_: str, old: Obj | None, new: Obj) -> None:
        item = (res, obj_key(new))
        rid = self._rid(res)
        old_refs = owner_refs(old)
        new_refs = [] if type_ == "DELETED" else owner_refs(new)
        requeue_owners: set[str] = set()
        with self._lock:
            for ref in old_refs:
                deps = self._dependents.get(str(ref.get("uid")))
                if deps is not None:
                    deps.discard(item)
                    if not deps:
                        del self._dependents[str(ref.get("uid"))]
            for ref in new_refs:
                self._dependents.setdefault(str(ref.get("uid")), set()).add(item)
            me = uid(new)
            gone_deps: list[Item] = []
            if type_ == "DELETED":
                if self._uids.get(me) == item:
                    del self._uids[me]
                gone_deps = list(self._dependents.get(me, ()))
            elif me:
                self._uids[me] = item
            if type_ == "DELETED" or old_refs != new_refs:
                requeue_owners = {str(r.get("uid")) for r in old_refs}
            owner_items = [self._uids[u] for u in requeue_owners if u in self._uids]
        for dep_res, dep_key in gone_deps:  # an owner went: check its dependents
            self.queue.add(f"d|{self._rid(dep_res)}|{dep_key}")
        if type_ != "DELETED":
            if new_refs and (
                type_ == "ADDED" or old_refs != new_refs or deleting(new) != deleting(old or {})
            ):
                self.queue.add(f"d|{rid}|{item[1]}")
            if deleting(new) and {FOREGROUND, ORPHAN} & set(finalizers(new)):
                self.queue.add(f"o|{rid}|{item[1]}")
        for owner_res, owner_key in owner_items:  # a dependent went: its owner may be done
            owner = self._infs[owner_res].get(owner_key)
            if owner is not None and deleting(owner):
                self.queue.add(f"o|{self._rid(owner_res)}|{owner_key}")

    def dependents(self, owner_uid: str) -> list[Item]:
        with self._lock:
            return list(self._dependents.get(owner_uid, ()))

    def sync(self, key: str) -> None:
        kind, rid, obj_k = key.split("|", 2)
        res = self._by_id.get(rid)
        if res is None:
            return
        obj = self._infs[res].get(obj_k)
        if obj is None:
            return
        if kind == "d":
            self._attempt_to_delete(res, obj)
        else:
            self._process_deleting_owner(res, obj)

    # -- dependents ------------------------------------------------------------------------

    def _owner(self, ref: dict[str, Any], ns: str | None) -> Obj | None:
        """The live owner a reference names (cache first, then the registry)."""
        api = str(ref.get("apiVersion", ""))
        group = api.rpartition("/")[0]
        res = by_kind(group, str(ref.get("kind", "")))
        if res is None:
            return {"metadata": {"uid": ref.get("uid")}}  # unknown kind: assume present
        owner_ns = ns if res.namespaced else None
        key = f"{owner_ns}/{ref.get('name')}" if owner_ns else str(ref.get("name"))
        inf = self._infs.get(res)
        cached = inf.get(key) if inf is not None else None
        if cached is not None and uid(cached) == ref.get("uid"):
            return cached
        try:
            return self.registry.get(res, owner_ns, str(ref.get("name")))  # type: ignore[no-any-return]
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def _attempt_to_delete(self, res: Resource, obj: Obj) -> None:
        if deleting(obj) and FOREGROUND not in finalizers(obj):
            return
        refs = owner_refs(obj)
        if not refs:
            return
        ns = namespace(obj) or None
        owners = [self._owner(r, ns) for r in refs]
        solid, dangling, waiting = classify_owners(refs, owners)
        if solid:
            if dangling or waiting:
                self._remove_refs(res, obj, {str(r.get("uid")) for r in dangling + waiting})
            return
        policy = "Foreground" if waiting and self.dependents(uid(obj)) else deletion_policy(obj)
        try:
            self.registry.delete(
                res, ns, name(obj), propagation=policy, preconditions={"uid": uid(obj)}
            )
        except ApiError as e:
            if e.code not in (404, 409):
                raise

    def _remove_refs(self, res: Resource, obj: Obj, uids: set[str]) -> None:
        ns = namespace(obj) or None
        try:
            current = self.registry.get(res, ns, name(obj))
        except ApiError as e:
            if e.code == 404:
                return
            raise
        if uid(current) != uid(obj):
            return
        refs = owner_refs(current)
        kept = [r for r in refs if str(r.get("uid")) not in uids]
        if len(kept) == len(refs):
            return
        fresh = copy.deepcopy(current)
        if kept:
            fresh["metadata"]["ownerReferences"] = kept
        else:
            fresh["metadata"].pop("ownerReferences", None)
        self.registry.update(res, ns, name(obj), fresh)

    # -- owners being deleted ----------------------------------------------------------------

    def _process_deleting_owner(self, res: Resource, owner: Obj) -> None:
        if not deleting(owner):
            return
        fins = finalizers(owner)
        me = uid(owner)
        deps = [(r, k, self._infs[r].get(k)) for r, k in self.dependents(me)]
        if ORPHAN in fins:
            for dep_res, _, dep in deps:
                if dep is not None:
                    self._remove_refs(dep_res, dep, {me})
            self._remove_finalizer(res, owner, ORPHAN)
            return
        if FOREGROUND not in fins:
            return
        blocking = [d for _, _, d in deps if d is not None and blocks(d, me)]
        for dep_res, dep_key, dep in deps:
            if dep is not None and not deleting(dep):
                self.queue.add(f"d|{self._rid(dep_res)}|{dep_key}")
        if not blocking:
            self._remove_finalizer(res, owner, FOREGROUND)

    def _remove_finalizer(self, res: Resource, owner: Obj, finalizer: str) -> None:
        ns, n = split_key(obj_key(owner))
        try:
            current = self.registry.get(res, ns, n)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        if uid(current) != uid(owner) or finalizer not in finalizers(current):
            return
        fresh = copy.deepcopy(current)
        fresh["metadata"]["finalizers"] = [f for f in finalizers(current) if f != finalizer]
        self.registry.update(res, ns, n, fresh)
