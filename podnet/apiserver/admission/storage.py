"""The storage admission plugins every cluster runs on claims and volumes, and the
default StorageClass ``podnet up`` starts with.

- DefaultStorageClass (plugin/pkg/admission/storage/storageclass/setdefault/
  admission.go): a new PersistentVolumeClaim that names no class (no
  ``spec.storageClassName`` and no beta annotation) gets the default class's name; an
  explicit ``""`` (no class: only pre-provisioned volumes) is kept. The default class is
  storageutil.GetDefaultClass's: among the classes annotated
  ``storageclass.kubernetes.io/is-default-class: "true"`` (or the beta key), the newest
  by creationTimestamp, then the first by name. No default class: the claim stays
  without one.
- StorageObjectInUseProtection (plugin/pkg/admission/storage/
  storageobjectinuseprotection/admission.go): a new claim gets the
  ``kubernetes.io/pvc-protection`` finalizer, a new volume ``kubernetes.io/pv-protection``
  (once), which the pvc-protection and pv-protection controllers remove when nothing
  uses the object any more.

Both act on create only (their handlers are ``admission.NewHandler(admission.Create)``)
and never on a subresource.

- PersistentVolumeClaimResize (plugin/pkg/admission/storage/persistentvolume/resize/
  admission.go), on update: a claim's storage request may grow only when its class
  exists and sets ``allowVolumeExpansion`` (403 Forbidden otherwise, upstream's words).

The class ``standard`` mirrors the one kind ships (kind's
``standard``, rancher's local-path-provisioner), but binding is Immediate: every node of
``podnet up`` is this machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.model.quantity import parse_quantity

Obj = dict[str, Any]

PROVISIONER = "podnet.io/local-path"
DEFAULT_CLASS = "standard"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
# storageutil.BetaIsDefaultStorageClassAnnotation: still honoured upstream
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
# core.BetaStorageClassAnnotation: a claim's or volume's class before spec.storageClassName
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"

# the plugins' names, as kube-apiserver's --disable-admission-plugins takes them
DEFAULT_STORAGE_CLASS = "DefaultStorageClass"
IN_USE_PROTECTION = "StorageObjectInUseProtection"
RESIZE = "PersistentVolumeClaimResize"

STORAGE_CLASSES: Resource = by_kind("storage.k8s.io", "StorageClass")  # type: ignore[assignment]


def default_storage_class() -> Obj:
    """The StorageClass ``podnet up`` creates when missing: podnet's local-path
    provisioner, the default class, volumes deleted with their claims."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": DEFAULT_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def _annotations(obj: Any) -> dict[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    found = meta.get("annotations") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def is_default_class(obj: Obj) -> bool:
    """storageutil.IsDefaultAnnotation: either annotation is exactly ``"true"``."""
    ann = _annotations(obj)
    return "true" in (ann.get(DEFAULT_CLASS_ANNOTATION), ann.get(BETA_DEFAULT_CLASS_ANNOTATION))


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """storageutil.GetDefaultClass: the newest default class, ties by name ascending.
    Timestamps are RFC 3339 in UTC with whole seconds, so they order as text."""
    marked = [c for c in classes if is_default_class(c)]
    if not marked:
        return None

    def key(c: Obj) -> tuple[str, str]:
        meta = c.get("metadata") or {}
        return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))

    newest = max(key(c)[0] for c in marked)
    return min((c for c in marked if key(c)[0] == newest), key=lambda c: key(c)[1])


def claim_has_class(claim: Obj) -> bool:
    """helper.PersistentVolumeClaimHasClass: the beta annotation or a storageClassName
    (even ``""``) names the class."""
    if BETA_CLASS_ANNOTATION in _annotations(claim):
        return True
    spec = claim.get("spec")
    return isinstance(spec, dict) and spec.get("storageClassName") is not None


def _protect(obj: Obj, finalizer: str) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return
    found = meta.get("finalizers")
    if found is None:
        meta["finalizers"] = [finalizer]
    elif isinstance(found, list) and finalizer not in found:
        found.append(finalizer)  # a non-list is the schema's to refuse


def requested_storage(claim: Obj) -> float | None:
    """A claim's ``spec.resources.requests.storage`` in bytes; None when absent or not
    a quantity (validation's to report)."""
    spec = claim.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    try:
        return None if storage is None else float(parse_quantity(str(storage)))
    except ValueError:
        return None


def check_resize(registry: Any, claim: Obj, old: Obj) -> None:
    """PersistentVolumeClaimResize: a bigger request needs a class that allows it. A
    claim not Bound is left to validation, which upstream runs before the validating
    admission (its 422: spec is immutable)."""
    if (old.get("status") or {}).get("phase") != "Bound":
        return
    new_size, old_size = requested_storage(claim), requested_storage(old)
    if new_size is None or old_size is None or new_size <= old_size:
        return
    class_name = (claim.get("spec") or {}).get("storageClassName") or ""
    sc = registry.store.get(STORAGE_CLASSES.key(None, class_name)) if class_name else None
    if sc is None or sc.get("allowVolumeExpansion") is not True:
        name = (claim.get("metadata") or {}).get("name", "")
        raise ApiError(
            403,
            "Forbidden",
            f'persistentvolumeclaims "{name}" is forbidden: only dynamically provisioned '
            "pvc can be resized and the storageclass that provisions the pvc must support "
            "resize",
            details={"name": name, "kind": "persistentvolumeclaims"},
        )


def admit(registry: Any, res: Resource, obj: Obj, old: Obj | None) -> None:
    """Mutating admission of a claim or volume being created (``old`` is None), and the
    resize check of a claim's update. Plugins in ``registry.disabled_admission`` are
    skipped."""
    if res.group != "" or res.custom is not None:
        return
    disabled = registry.disabled_admission
    if old is not None:
        if res.kind == "PersistentVolumeClaim" and RESIZE not in disabled:
            check_resize(registry, obj, old)
        return
    if res.kind == "PersistentVolumeClaim":
        spec = obj.get("spec")
        if (
            DEFAULT_STORAGE_CLASS not in disabled
            and isinstance(spec, dict)
            and not claim_has_class(obj)
        ):
            found = default_class(registry.store.list(STORAGE_CLASSES.prefix(None))[0])
            if found is not None:
                spec["storageClassName"] = found["metadata"]["name"]
        if IN_USE_PROTECTION not in disabled:
            _protect(obj, PVC_PROTECTION)
    elif res.kind == "PersistentVolume" and IN_USE_PROTECTION not in disabled:
        _protect(obj, PV_PROTECTION)
