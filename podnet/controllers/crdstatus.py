"""The CRD controllers of apiextensions-apiserver, in one: naming, establishing, the
finalizer and the served-resources table (staging/src/k8s.io/apiextensions-apiserver/
pkg/controller/status/naming_controller.go, pkg/controller/establish/
establishing_controller.go, pkg/controller/finalizer/crd_finalizer.go, and
pkg/apiserver/customresource_discovery_controller.go).

- names: ``status.acceptedNames`` and the NamesAccepted condition (a name another CRD
  of the group holds is refused), then Established once the names are accepted;
- serving: after every change, the resources of the Established CRDs are published to
  :func:`podnet.apiserver.resources.set_custom` (routes, discovery, OpenAPI and the
  controllers that iterate every resource read it there), which tells its listeners
  (the garbage collector starts watching new resources);
- deletion: a CRD being deleted with the ``customresourcecleanup`` finalizer has every
  custom resource of it deleted, then loses the finalizer, and the API server removes it.
"""

from __future__ import annotations

import copy

from podnet.apiserver import resources
from podnet.apiserver.crd import definition
from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Controller, deleting, name, rfc3339

CRDS: Resource = by_kind(definition.GROUP, definition.KIND)  # type: ignore[assignment]
RECHECK = 0.5  # seconds between looks at a CRD whose objects are still going


class CRDStatusController(Controller):
    """One of the controller manager's controllers (in kube-apiserver, the
    apiextensions-apiserver runs these beside the API; podnet's API has no threads of
    its own, so the manager runs them, through the registry, as it runs the rest)."""

    name = "crd-status"

    def setup(self) -> None:
        self.crds = self.informers.get(CRDS)
        self.crds.add_handler(self._on_crd)

    def _on_crd(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is None:
            return
        self.queue.add(name(obj))
        if type_ == "DELETED":
            # naming_controller.go requeueAllOtherGroupCRDs: the names it held are free
            group = (obj.get("spec") or {}).get("group")
            for other in self.crds.objects():
                if (other.get("spec") or {}).get("group") == group:
                    self.queue.add(name(other))

    def prepare(self) -> None:
        self.publish()

    def sync(self, key: str) -> None:
        crd = self.crds.get(key)
        if crd is not None:
            if deleting(crd):
                self._finalize(crd)
            else:
                self._names(crd)
        self.publish()

    def publish(self) -> None:
        """The Established CRDs' resources into the served table (by CRD name)."""
        crds = sorted(self.crds.objects(), key=name)
        served = [r for crd in crds for r in definition.served(crd)]
        # a group's versions in priority order across its CRDs: the first is preferred
        served.sort(key=lambda r: (r.group, definition.version_priority(r.version)))
        resources.set_custom(served)

    # -- names and conditions ----------------------------------------------------------

    def _names(self, crd: Obj) -> None:
        others = [c for c in self.crds.objects() if name(c) != name(crd)]
        accepted, reason, message = definition.accepted_names(crd, others)
        fresh = copy.deepcopy(crd)
        status = fresh.setdefault("status", {})
        now = rfc3339(self.clock())
        ok = reason == "NoConflicts"
        status["acceptedNames"] = accepted
        definition.set_condition(
            status, "NamesAccepted", "True" if ok else "False", reason, message, now
        )
        if ok:
            if not definition.condition(crd, "Established"):
                definition.set_condition(
                    status,
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    now,
                )
        elif not definition.condition(crd, "Established"):
            definition.set_condition(
                status, "Established", "False", "NotAccepted", "not all names are accepted", now
            )
        stored = [
            v.get("name")
            for v in (fresh.get("spec") or {}).get("versions") or ()
            if v.get("storage")
        ]
        known = list(status.get("storedVersions") or ())
        status["storedVersions"] = known + [v for v in stored if v not in known]
        if fresh.get("status") != crd.get("status"):
            self.registry.update(CRDS, None, name(crd), fresh, subresource="status")

    # -- deletion ----------------------------------------------------------------------

    def _finalize(self, crd: Obj) -> None:
        fins = list((crd.get("metadata") or {}).get("finalizers") or ())
        if definition.CLEANUP_FINALIZER not in fins:
            return
        remaining = self._delete_objects(crd)
        fresh = copy.deepcopy(crd)
        status = fresh.setdefault("status", {})
        now = rfc3339(self.clock())
        if remaining:
            definition.set_condition(
                status,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                now,
            )
            if fresh.get("status") != crd.get("status"):
                self.registry.update(CRDS, None, name(crd), fresh, subresource="status")
            self.queue.add_after(name(crd), RECHECK)
            return
        definition.set_condition(
            status,
            "Terminating",
            "False",
            "InstanceDeletionCompleted",
            "removed all instances",
            now,
        )
        fresh["metadata"]["finalizers"] = [f for f in fins if f != definition.CLEANUP_FINALIZER]
        try:
            self.registry.update(CRDS, None, name(crd), fresh, subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise

    def _delete_objects(self, crd: Obj) -> int:
        """Delete every object of ``crd``; how many are still there (being deleted)."""
        served = definition.served(crd)
        if not served:
            return 0
        res = served[0]
        remaining = 0
        for obj in self.registry.list(res, None).items:
            remaining += 1  # until seen removed
            if deleting(obj):
                continue
            meta = obj["metadata"]
            try:
                out = self.registry.delete(res, meta.get("namespace"), meta["name"])
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
                continue
            if not (out.get("metadata") or {}).get("finalizers"):
                remaining -= 1  # removed now
        return remaining
