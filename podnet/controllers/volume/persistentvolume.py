"""PersistentVolumes for claims: binding, podnet's local-path provisioner, reclaiming,
and the in-use protection of both (kube-controller-manager's persistentvolume-binder,
pvc-protection and pv-protection controllers, with the provisioner kind ships).

- A claim naming a volume (``spec.volumeName``) is bound to it when the volume is free
  or already reserved for the claim; an unbound claim takes the smallest Available
  volume of its class whose capacity, access modes and volume mode fit
  (pkg/controller/volume/persistentvolume/pv_controller.go ``syncUnboundClaim``,
  index.go ``findBestMatchForClaim``).
- Otherwise a claim of a class whose provisioner is podnet's (``podnet.io/local-path``,
  the class ``standard`` that ``podnet up`` makes default, as kind's ``standard`` runs
  rancher's local-path-provisioner) gets a new volume ``pvc-<claim uid>``: a directory of
  its own (mode 0777, as local-path-provisioner makes it) under the cluster's data
  directory, so it outlives a restart with the same ``--data-dir``. The volume's
  ``hostPath`` names that directory; the kubelet mounts only volumes podnet provisioned,
  found by their name in that directory, never a path a user wrote.
- A bound volume whose claim is gone is Released; reclaim policy Delete (the default of a
  provisioned volume: the class's) deletes its directory and then the volume
  (``reclaimVolume``), Retain keeps both.
- A claim being deleted keeps ``kubernetes.io/pvc-protection`` while a pod that is not
  finished uses it (pkg/controller/volume/pvcprotection); a volume keeps
  ``kubernetes.io/pv-protection`` while it is Bound (pvprotection).

Binding is immediate (the class's volumeBindingMode Immediate): every node of ``podnet
up`` is this machine, so a volume is reachable from any of them.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from podnet.apiserver.admission.storage import (
    PROVISIONER,
    PV_PROTECTION,
    PVC_PROTECTION,
    requested_storage,
)
from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import (
    Clock,
    Controller,
    deleting,
    meta,
    name,
    namespace,
    pod_phase,
    record_event,
    uid,
)
from podnet.controllers.informer import Informers, split_key
from podnet.model.objects import ephemeral_claim
from podnet.model.quantity import parse_quantity

CLAIMS: Resource = by_kind("", "PersistentVolumeClaim")  # type: ignore[assignment]
VOLUMES: Resource = by_kind("", "PersistentVolume")  # type: ignore[assignment]
CLASSES: Resource = by_kind("storage.k8s.io", "StorageClass")  # type: ignore[assignment]
PODS: Resource = by_kind("", "Pod")  # type: ignore[assignment]
COMPONENT = "persistentvolume-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"


def claim_volumes(pod: Obj) -> list[str]:
    """The claims a pod's volumes name, its generic ephemeral volumes' included
    (``<pod>-<volume>``, ephemeral.VolumeClaimName)."""
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        if not isinstance(v, dict):
            continue
        claim = v.get("persistentVolumeClaim")
        if isinstance(claim, dict) and claim.get("claimName"):
            out.append(str(claim["claimName"]))
        elif isinstance(v.get("ephemeral"), dict):
            out.append(ephemeral_claim(name(pod), str(v.get("name", ""))))
    return out


def _request(claim: Obj) -> float:
    return requested_storage(claim) or 0.0


def _capacity(volume: Obj) -> float:
    storage = ((volume.get("spec") or {}).get("capacity") or {}).get("storage")
    return float(parse_quantity(str(storage))) if storage is not None else 0.0


def _class_of(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("storageClassName") or "")


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def _fits(volume: Obj, claim: Obj) -> bool:
    """index.go ``findByClaim`` checks: class, volume mode, access modes, size."""
    vspec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if _class_of(volume) != _class_of(claim) or deleting(volume):
        return False
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or ()) <= set(vspec.get("accessModes") or ()):
        return False
    return _capacity(volume) >= _request(claim)


def _uses(pod: Obj, claim_name: str) -> bool:
    return pod_phase(pod) not in ("Succeeded", "Failed") and claim_name in claim_volumes(pod)


class PersistentVolumeController(Controller):
    """``volumes_dir``: where provisioned volumes live (the data directory's ``pv``);
    None: nothing is provisioned (claims of podnet's class wait)."""

    name = "persistentvolume-binder"

    def __init__(
        self,
        registry: Any,
        informers: Informers,
        *,
        volumes_dir: Path | None = None,
        clock: Clock,
    ) -> None:
        super().__init__(registry, informers, clock=clock)
        self.volumes_dir = volumes_dir

    def setup(self) -> None:
        self.claims = self.informers.get(CLAIMS)
        self.volumes = self.informers.get(VOLUMES)
        self.classes = self.informers.get(CLASSES)
        self.pods = self.informers.get(PODS)
        self.claims.add_handler(self._on_claim)
        self.volumes.add_handler(self._on_volume)
        self.classes.add_handler(self._on_class)
        self.pods.add_handler(self._on_pod)

    # -- handlers ------------------------------------------------------------------------
    def _on_claim(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is None:
            return
        self.queue.add(f"claim:{namespace(obj)}/{name(obj)}")
        volume = (obj.get("spec") or {}).get("volumeName")
        if volume:
            self.queue.add(f"volume:{volume}")
        if type_ == "DELETED":  # its volume is released: find it by its claimRef
            for v in self.volumes.objects():
                ref = (v.get("spec") or {}).get("claimRef") or {}
                if ref.get("uid") == uid(obj):
                    self.queue.add(f"volume:{name(v)}")

    def _on_volume(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is None:
            return
        self.queue.add(f"volume:{name(obj)}")
        ref = (obj.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace', '')}/{ref['name']}")
        if type_ == "DELETED" or _phase(obj) == "Available":  # a claim may fit it
            for c in self.claims.objects():
                if _phase(c) != "Bound":
                    self.queue.add(f"claim:{namespace(c)}/{name(c)}")

    def _on_class(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if type_ == "DELETED" or new is None:
            return
        for c in self.claims.objects():
            if _phase(c) == "Pending" and _class_of(c) == name(new):
                self.queue.add(f"claim:{namespace(c)}/{name(c)}")

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        """pvcprotection's podAddedDeletedUpdated: a claim being deleted may be free."""
        obj = new if new is not None else old
        if obj is None:
            return
        for claim in claim_volumes(obj):
            c = self.claims.get(f"{namespace(obj)}/{claim}")
            if c is not None and deleting(c):
                self.queue.add(f"claim:{namespace(c)}/{claim}")

    # -- sync ----------------------------------------------------------------------------
    def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            ns, claim_name = split_key(rest)
            claim = self.claims.get(rest)
            if claim is not None:
                self._sync_claim(ns or "", claim_name, claim)
        elif kind == "volume":
            volume = self.volumes.get(rest)
            if volume is not None:
                self._sync_volume(volume)

    def _sync_claim(self, ns: str, claim_name: str, claim: Obj) -> None:
        if deleting(claim):
            if PVC_PROTECTION in (meta(claim).get("finalizers") or ()) and not self._in_use(
                ns, claim_name
            ):
                self._drop_finalizer(CLAIMS, ns, claim, PVC_PROTECTION)
            return
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = self.volumes.get(str(volume_name))
            if volume is None:
                if _phase(claim) == "Bound":  # syncBoundClaim: its volume went
                    self._claim_status(claim, None, "Lost")
                    record_event(
                        self.registry,
                        claim,
                        "Warning",
                        "ClaimLost",
                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                        COMPONENT,
                    )
                return
            ref = (volume.get("spec") or {}).get("claimRef") or {}
            if not ref or ref.get("uid") in (None, "", uid(claim)):
                self._bind(volume, claim)
                self._expand(claim, volume)
            return
        match = self._best_match(claim)
        if match is not None:
            self._bind(match, claim)
            return
        self._provision(claim)

    def _best_match(self, claim: Obj) -> Obj | None:
        """findBestMatchForClaim: the smallest fitting volume free or reserved for it."""
        fits = []
        for v in self.volumes.objects():
            ref = (v.get("spec") or {}).get("claimRef")
            if ref:
                if ref.get("namespace") != namespace(claim) or ref.get("name") != name(claim):
                    continue
                if ref.get("uid") and ref.get("uid") != uid(claim):
                    continue
            elif _phase(v) not in ("Available", "Pending", ""):
                continue
            if _fits(v, claim):
                fits.append(v)
        return min(fits, key=_capacity) if fits else None

    def _provision(self, claim: Obj) -> None:
        class_name = _class_of(claim)
        if not class_name:
            self._pending_event(
                claim,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            return
        sc = self.classes.get(class_name)
        if sc is None:
            self._pending_event(
                claim,
                "Warning",
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
            )
            return
        provisioner = str(sc.get("provisioner") or "")
        if provisioner != PROVISIONER or self.volumes_dir is None:
            self._pending_event(
                claim,
                "Normal",
                "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner "
                f"'{provisioner}' or manually by the system administrator. If volume creation "
                "is delayed, please verify that the provisioner is running and correctly "
                "registered.",
            )
            return
        volume_name = f"pvc-{uid(claim)}"
        existing = self.volumes.get(volume_name)
        if existing is not None:  # made by an earlier sync whose bind did not finish
            self._bind(existing, claim)
            return
        directory = self.volumes_dir / volume_name
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)  # local-path-provisioner: mkdir -m 0777
        spec = claim.get("spec") or {}
        volume: Obj = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume_name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": str(spec["resources"]["requests"]["storage"])},
                "accessModes": list(spec.get("accessModes") or ()),
                "persistentVolumeReclaimPolicy": str(sc.get("reclaimPolicy") or "Delete"),
                "storageClassName": class_name,
                "volumeMode": str(spec.get("volumeMode") or "Filesystem"),
                "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
                "claimRef": self._claim_ref(claim),
            },
        }
        try:
            created = self.registry.create(VOLUMES, None, volume)
        except ApiError as e:
            if e.code != 409:
                raise
            return  # the informer brings it; the claim's next sync binds it
        record_event(
            self.registry,
            claim,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {volume_name}",
            PROVISIONER,
        )
        self._bind(created, claim, provisioned=True)

    @staticmethod
    def _claim_ref(claim: Obj) -> Obj:
        return {
            "kind": "PersistentVolumeClaim",
            "namespace": namespace(claim),
            "name": name(claim),
            "uid": uid(claim),
            "apiVersion": "v1",
            "resourceVersion": str(meta(claim).get("resourceVersion", "")),
        }

    def _bind(self, volume: Obj, claim: Obj, *, provisioned: bool = False) -> None:
        """pv_controller.go ``bind``: the volume's claimRef and phase, then the claim's
        volumeName and annotations, then its phase, capacity and access modes."""
        vspec = volume.get("spec") or {}
        ref = vspec.get("claimRef") or {}
        if ref.get("uid") != uid(claim):
            volume = self._fresh(VOLUMES, None, name(volume))
            volume["spec"]["claimRef"] = self._claim_ref(claim)
            ann = volume["metadata"].setdefault("annotations", {})
            ann[BOUND_BY_CONTROLLER] = "yes"
            volume = self.registry.update(VOLUMES, None, name(volume), volume)
        if _phase(volume) != "Bound":
            volume = self._volume_phase(volume, "Bound")
        cspec = claim.get("spec") or {}
        ann = meta(claim).get("annotations") or {}
        if cspec.get("volumeName") != name(volume) or ann.get(BIND_COMPLETED) != "yes":
            claim = self._fresh(CLAIMS, namespace(claim), name(claim))
            claim["spec"]["volumeName"] = name(volume)
            ann = claim["metadata"].setdefault("annotations", {})
            ann[BIND_COMPLETED] = "yes"
            if cspec.get("volumeName") != name(volume):  # the controller chose the volume
                ann[BOUND_BY_CONTROLLER] = "yes"
            if provisioned:
                ann[STORAGE_PROVISIONER] = PROVISIONER
                ann[BETA_STORAGE_PROVISIONER] = PROVISIONER
            claim = self.registry.update(CLAIMS, namespace(claim), name(claim), claim)
        if _phase(claim) != "Bound":
            self._claim_status(claim, volume, "Bound")

    def _expand(self, claim: Obj, volume: Obj) -> None:
        """A bound claim asking for more than it has (the resize admission let it, so
        its class allows expansion): a volume of podnet's grows at once, a directory
        having no size of its own (the external resizer and the kubelet's filesystem
        resize in one step)."""
        if _request(claim) <= _capacity(volume):
            return
        if (meta(volume).get("annotations") or {}).get(PROVISIONED_BY) != PROVISIONER:
            return  # another plugin's volume: not ours to resize
        size = str(claim["spec"]["resources"]["requests"]["storage"])
        fresh = self._fresh(VOLUMES, None, name(volume))
        fresh["spec"]["capacity"] = {**(fresh["spec"].get("capacity") or {}), "storage": size}
        volume = self.registry.update(VOLUMES, None, name(fresh), fresh)
        self._claim_status(claim, volume, "Bound")
        record_event(
            self.registry,
            claim,
            "Normal",
            "VolumeResizeSuccessful",
            f"resize volume {name(volume)} by resizer {PROVISIONER} succeeded",
            PROVISIONER,
        )

    def _claim_status(self, claim: Obj, volume: Obj | None, phase: str) -> None:
        claim = self._fresh(CLAIMS, namespace(claim), name(claim))
        status: Obj = {"phase": phase}
        if volume is not None:
            vspec = volume.get("spec") or {}
            status["accessModes"] = list(vspec.get("accessModes") or ())
            status["capacity"] = dict(vspec.get("capacity") or {})
        claim["status"] = status
        self.registry.update(CLAIMS, namespace(claim), name(claim), claim, subresource="status")

    def _fresh(self, res: Resource, ns: str | None, obj_name: str) -> Obj:
        """The stored object, a copy of its own to change (the registry's is shared
        with every reader, the informers' caches included)."""
        obj: Obj = copy.deepcopy(self.registry.get(res, ns or None, obj_name))
        return obj

    def _pending_event(self, claim: Obj, type_: str, reason: str, message: str) -> None:
        record_event(self.registry, claim, type_, reason, message, COMPONENT)

    def _sync_volume(self, volume: Obj) -> None:
        if deleting(volume):
            if (
                PV_PROTECTION in (meta(volume).get("finalizers") or ())
                and _phase(volume) != "Bound"
            ):
                self._drop_finalizer(VOLUMES, None, volume, PV_PROTECTION)
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref:
            if _phase(volume) in ("", "Pending"):
                self._volume_phase(volume, "Available")
            return
        claim = self.claims.get(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        if claim is not None and (not ref.get("uid") or ref.get("uid") == uid(claim)):
            if (claim.get("spec") or {}).get("volumeName") == name(volume):
                if _phase(volume) != "Bound":
                    self._volume_phase(volume, "Bound")
            elif _phase(volume) in ("", "Pending"):
                self._volume_phase(volume, "Available")  # reserved: the claim binds it
            return
        if claim is None and not self._claim_gone(ref):
            return  # the cache may lag a new claim: wait for it
        self._reclaim(volume)

    def _claim_gone(self, ref: Obj) -> bool:
        """Whether the claim a volume names is really gone (not only behind the cache)."""
        try:
            live = self.registry.get(CLAIMS, str(ref.get("namespace", "")), str(ref.get("name")))
        except ApiError as e:
            if e.code == 404:
                return True
            raise
        return bool(ref.get("uid")) and uid(live) != ref.get("uid")

    def _reclaim(self, volume: Obj) -> None:
        """reclaimVolume: Released; Delete removes the directory and the volume."""
        if _phase(volume) != "Released":
            volume = self._volume_phase(volume, "Released")
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy != "Delete":
            return
        ann = meta(volume).get("annotations") or {}
        if ann.get(PROVISIONED_BY) == PROVISIONER and self.volumes_dir is not None:
            shutil.rmtree(self.volumes_dir / name(volume), ignore_errors=True)
        elif ann.get(PROVISIONED_BY) != PROVISIONER:
            record_event(
                self.registry,
                volume,
                "Warning",
                "VolumeFailedDelete",
                "error getting deleter volume plugin for volume "
                f'"{name(volume)}": no deletable volume plugin matched',
                COMPONENT,
            )
            self._volume_phase(volume, "Failed")
            return
        try:
            self.registry.delete(VOLUMES, None, name(volume))
        except ApiError as e:
            if e.code != 404:
                raise

    def _volume_phase(self, volume: Obj, phase: str) -> Obj:
        fresh = self._fresh(VOLUMES, None, name(volume))
        fresh["status"] = {**(fresh.get("status") or {}), "phase": phase}
        out: Obj = self.registry.update(VOLUMES, None, name(fresh), fresh, subresource="status")
        return out

    def _in_use(self, ns: str, claim_name: str) -> bool:
        """pvcprotection ``isBeingUsed``: a pod of the namespace that is not finished
        names the claim; asked of the cache, then, when it says no, of the API server
        (``askAPIServer``: a pod made just now may not be in the cache yet)."""
        cached = [p for p in self.pods.objects() if namespace(p) == ns]
        if any(_uses(p, claim_name) for p in cached):
            return True
        return any(_uses(p, claim_name) for p in self.registry.list(PODS, ns).items)

    def _drop_finalizer(self, res: Resource, ns: str | None, obj: Obj, finalizer: str) -> None:
        fresh = self._fresh(res, ns, name(obj))
        fresh["metadata"]["finalizers"] = [
            f for f in fresh["metadata"].get("finalizers") or () if f != finalizer
        ]
        self.registry.update(res, ns or None, name(fresh), fresh)
