"""Namespace lifecycle (pkg/controller/namespace/deletion/namespaced_resources_deleter.go).

A namespace being deleted (deletionTimestamp set, ``kubernetes`` in spec.finalizers) has
every namespaced object in it deleted, resource by resource; once nothing is left the
controller removes its ``kubernetes`` finalizer through the ``finalize`` subresource
and the API server deletes the namespace. Objects still there (pods terminating
gracefully, objects with finalizers) make it look again shortly, as upstream requeues
on "content remaining". Also: the namespaces every cluster has exist at start.
"""

from __future__ import annotations

import copy

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, all_resources, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Controller, deleting, name

NAMESPACES: Resource = by_kind("", "Namespace")  # type: ignore[assignment]
INITIAL = ("default", "kube-system", "kube-public", "kube-node-lease")
FINALIZER = "kubernetes"
RECHECK = 0.2  # seconds between looks at a namespace whose content is still going


def namespaced_resources() -> list[Resource]:
    return [r for r in all_resources() if r.namespaced]  # CRDs' too


def without_finalizer(ns: Obj) -> Obj:
    """The namespace with ``kubernetes`` removed from spec.finalizers."""
    fresh = copy.deepcopy(ns)
    spec = fresh.setdefault("spec", {})
    spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != FINALIZER]
    return fresh


class NamespaceController(Controller):
    name = "namespace"

    def setup(self) -> None:
        self.namespaces = self.informers.get(NAMESPACES)
        self.namespaces.add_handler(self._on_namespace)

    def _on_namespace(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ != "DELETED" and new is not None and deleting(new):
            self.queue.add(name(new))

    def prepare(self) -> None:
        for ns in INITIAL:
            if self.namespaces.get(ns) is not None:
                continue
            try:
                self.registry.create(
                    NAMESPACES,
                    None,
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                )
            except ApiError as e:
                if e.reason != "AlreadyExists":
                    raise

    def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or not deleting(ns):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or ()):
            return
        if self.delete_content(key) > 0:
            self.queue.add_after(key, RECHECK)
            return
        self.registry.update(NAMESPACES, None, key, without_finalizer(ns), subresource="finalize")

    def delete_content(self, ns: str) -> int:
        """Delete every object in ``ns``; the number still there (being deleted)."""
        remaining = 0
        for res in namespaced_resources():
            if "delete" not in res.verbs:
                continue
            for obj in self.registry.list(res, ns).items:
                remaining += 1
                if deleting(obj):
                    continue
                try:
                    self.registry.delete(res, ns, name(obj), propagation="Background")
                except ApiError as e:
                    if e.code not in (404, 409):
                        raise
        return remaining
