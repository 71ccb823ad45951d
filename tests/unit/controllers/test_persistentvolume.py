"""The persistentvolume controller over the real Registry (MemoryStore) with every
controller running: podnet's local-path provisioner makes a directory per claim and
binds it; a claim in use is kept until its pod goes; a released volume is deleted with
its directory (reclaim Delete) or kept (Retain); a volume a user made is bound by class,
size and access modes, never provisioned over; a claim with no class waits."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.ctrl_loop import NAMESPACES, PODS, found, res, wait_for

from podnet.apiserver.admission.storage import (
    DEFAULT_CLASS,
    PROVISIONER,
    PV_PROTECTION,
    PVC_PROTECTION,
    default_storage_class,
)
from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.manager import ControllerManager
from podnet.controllers.volume.persistentvolume import PROVISIONED_BY

CLAIMS = res("", "PersistentVolumeClaim")
VOLUMES = res("", "PersistentVolume")
CLASSES = res("storage.k8s.io", "StorageClass")
EVENTS = res("", "Event")
Obj = dict[str, Any]


@contextmanager
def cluster(tmp_path: Path) -> Iterator[Registry]:
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    registry.create(CLASSES, None, default_storage_class())
    manager = ControllerManager(registry, nodes=1, volumes_dir=tmp_path / "pv")
    manager.start()
    try:
        assert manager.wait_synced(10.0)
        yield registry
    finally:
        manager.stop(5.0)
        registry.store.close()


def claim(name: str, size: str = "1Gi", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            **spec,
        },
    }


def bound(reg: Registry, name: str) -> Any:
    c = found(reg, CLAIMS, "default", name)
    return c if c is not None and (c.get("status") or {}).get("phase") == "Bound" else None


def reasons(reg: Registry, name: str) -> list[str]:
    return [
        e["reason"]
        for e in reg.list(EVENTS, "default").items
        if e["involvedObject"].get("name") == name
    ]


def test_a_claim_gets_a_directory_of_its_own_and_is_bound(tmp_path: Path) -> None:
    with cluster(tmp_path) as reg:
        made = reg.create(CLAIMS, "default", claim("data"))
        assert made["spec"]["storageClassName"] == DEFAULT_CLASS  # the default class
        assert PVC_PROTECTION in made["metadata"]["finalizers"]
        c = wait_for(lambda: bound(reg, "data"), what="the claim bound")
        volume_name = f"pvc-{made['metadata']['uid']}"
        assert c["spec"]["volumeName"] == volume_name
        assert c["status"]["capacity"] == {"storage": "1Gi"}
        assert c["status"]["accessModes"] == ["ReadWriteOnce"]
        ann = c["metadata"]["annotations"]
        assert ann["pv.kubernetes.io/bind-completed"] == "yes"
        assert ann["volume.kubernetes.io/storage-provisioner"] == PROVISIONER
        pv = reg.get(VOLUMES, None, volume_name)
        assert pv["status"]["phase"] == "Bound"
        assert pv["metadata"]["annotations"][PROVISIONED_BY] == PROVISIONER
        assert PV_PROTECTION in pv["metadata"]["finalizers"]
        assert pv["spec"]["claimRef"]["uid"] == made["metadata"]["uid"]
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        directory = tmp_path / "pv" / volume_name
        assert pv["spec"]["hostPath"]["path"] == str(directory)
        assert directory.is_dir() and directory.stat().st_mode & 0o777 == 0o777
        assert "ProvisioningSucceeded" in reasons(reg, "data")


def test_a_claim_in_use_stays_until_its_pod_goes_then_its_volume_goes(tmp_path: Path) -> None:
    with cluster(tmp_path) as reg:
        reg.create(CLAIMS, "default", claim("data"))
        volume_name = wait_for(lambda: bound(reg, "data"), what="bound")["spec"]["volumeName"]
        (tmp_path / "pv" / volume_name / "file").write_text("kept while used")
        pod = {
            "metadata": {"name": "user"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
            },
        }
        reg.create(PODS, "default", pod)
        reg.delete(CLAIMS, "default", "data")
        wait_for(
            lambda: (
                (found(reg, CLAIMS, "default", "data") or {})
                .get("metadata", {})
                .get("deletionTimestamp")
            ),
            what="the claim terminating",
        )
        time.sleep(0.3)  # syncs ran: the pod (not finished) keeps the claim
        assert found(reg, CLAIMS, "default", "data") is not None
        assert (tmp_path / "pv" / volume_name / "file").exists()
        reg.delete(PODS, "default", "user", grace_period=0)
        wait_for(lambda: found(reg, CLAIMS, "default", "data") is None, what="the claim gone")
        wait_for(lambda: found(reg, VOLUMES, None, volume_name) is None, what="its volume gone")
        assert not (tmp_path / "pv" / volume_name).exists()


def test_retain_keeps_the_volume_released(tmp_path: Path) -> None:
    with cluster(tmp_path) as reg:
        keep = copy.deepcopy(default_storage_class())
        keep["metadata"] = {"name": "keep"}
        keep["reclaimPolicy"] = "Retain"
        reg.create(CLASSES, None, keep)
        reg.create(CLAIMS, "default", claim("data", storageClassName="keep"))
        volume_name = wait_for(lambda: bound(reg, "data"), what="bound")["spec"]["volumeName"]
        reg.delete(CLAIMS, "default", "data")

        def released() -> bool:
            pv = found(reg, VOLUMES, None, volume_name)
            return pv is not None and pv["status"]["phase"] == "Released"

        wait_for(released, what="the volume released")
        assert (tmp_path / "pv" / volume_name).is_dir()


def test_a_volume_a_user_made_is_bound_by_class_size_and_modes(tmp_path: Path) -> None:
    with cluster(tmp_path) as reg:
        for name, size, modes in [
            ("small", "1Gi", ["ReadWriteOnce"]),
            ("big", "10Gi", ["ReadWriteOnce"]),
            ("shared", "5Gi", ["ReadWriteMany"]),
        ]:
            reg.create(
                VOLUMES,
                None,
                {
                    "metadata": {"name": name},
                    "spec": {
                        "capacity": {"storage": size},
                        "accessModes": modes,
                        "storageClassName": "manual",
                        "nfs": {"server": "example.com", "path": "/x"},
                    },
                },
            )
        reg.create(CLAIMS, "default", claim("want-2g", "2Gi", storageClassName="manual"))
        c = wait_for(lambda: bound(reg, "want-2g"), what="bound to a user's volume")
        assert c["spec"]["volumeName"] == "big"  # the smallest that fits: not "shared" (RWX)
        wait_for(
            lambda: reg.get(VOLUMES, None, "small")["status"].get("phase") == "Available",
            what="the volume no claim took Available",
        )
        assert not (tmp_path / "pv").exists() or not any((tmp_path / "pv").iterdir())
        reg.create(CLAIMS, "default", claim("named", "1Gi", volumeName="small"))
        assert wait_for(lambda: bound(reg, "named"), what="pre-bound")["spec"]["volumeName"] == (
            "small"
        )


def test_a_claim_with_no_class_waits(tmp_path: Path) -> None:
    with cluster(tmp_path) as reg:
        reg.create(CLAIMS, "default", claim("none", storageClassName=""))
        wait_for(lambda: "FailedBinding" in reasons(reg, "none"), what="FailedBinding")
        c = reg.get(CLAIMS, "default", "none")
        assert c["status"]["phase"] == "Pending" and not c["spec"].get("volumeName")
        reg.create(CLAIMS, "default", claim("elsewhere", storageClassName="nope"))
        wait_for(lambda: "ProvisioningFailed" in reasons(reg, "elsewhere"), what="no class")


def _scheduled(reg: Registry, pod: str) -> Any:
    p = reg.get(PODS, "default", pod)
    cond = [c for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    return cond[0] if cond else None


def test_the_scheduler_waits_for_the_claim(tmp_path: Path) -> None:
    """volumebinding PreFilter: a missing claim, then a bound one."""
    with cluster(tmp_path) as reg:
        pod = {
            "metadata": {"name": "user"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "later"}}],
            },
        }
        reg.create(PODS, "default", pod)
        cond = wait_for(lambda: _scheduled(reg, "user"), what="PodScheduled")
        assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
        assert cond["message"] == (
            '0/1 nodes are available: persistentvolumeclaim "later" not found.'
        )
        reg.create(CLAIMS, "default", claim("later"))
        wait_for(
            lambda: reg.get(PODS, "default", "user")["spec"].get("nodeName"),
            what=f"scheduled once the claim is bound ({_scheduled(reg, 'user')})",
        )
        assert bound(reg, "later") is not None


def test_a_generic_ephemeral_volume_is_a_claim_owned_by_its_pod(tmp_path: Path) -> None:
    """ephemeral volume controller: claim ``<pod>-<volume>`` from the template, owned by
    the pod; the garbage collector takes it with the pod, and its volume goes."""
    with cluster(tmp_path) as reg:
        template = {
            "metadata": {"labels": {"kind": "scratch"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
        pod = reg.create(
            PODS,
            "default",
            {
                "metadata": {"name": "app"},
                "spec": {
                    "containers": [{"name": "c", "image": "busybox"}],
                    "volumes": [
                        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": template}}
                    ],
                },
            },
        )
        c = wait_for(lambda: bound(reg, "app-scratch"), what="the pod's claim bound")
        (ref,) = c["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "Pod",
            "app",
            pod["metadata"]["uid"],
            True,
        )
        assert c["metadata"]["labels"] == {"kind": "scratch"}
        volume_name = c["spec"]["volumeName"]
        wait_for(lambda: reg.get(PODS, "default", "app")["spec"].get("nodeName"), what="bound")
        reg.delete(PODS, "default", "app", grace_period=0)
        wait_for(lambda: found(reg, CLAIMS, "default", "app-scratch") is None, what="claim gone")
        wait_for(lambda: found(reg, VOLUMES, None, volume_name) is None, what="volume gone")


def test_a_claim_grows_only_where_its_class_allows(tmp_path: Path) -> None:
    """PersistentVolumeClaimResize admission: 403 for the default class (no
    allowVolumeExpansion, as kind's); a class that allows it: the volume and the
    claim's capacity follow the request."""
    with cluster(tmp_path) as reg:
        grow = copy.deepcopy(default_storage_class())
        grow["metadata"] = {"name": "grow"}
        grow["allowVolumeExpansion"] = True
        reg.create(CLASSES, None, grow)
        reg.create(CLAIMS, "default", claim("fixed", storageClassName=DEFAULT_CLASS))
        reg.create(CLAIMS, "default", claim("elastic", storageClassName="grow"))
        wait_for(lambda: bound(reg, "fixed") and bound(reg, "elastic"), what="both bound")
        fixed = copy.deepcopy(reg.get(CLAIMS, "default", "fixed"))
        fixed["spec"]["resources"]["requests"]["storage"] = "2Gi"
        try:
            reg.update(CLAIMS, "default", "fixed", fixed)
        except ApiError as e:
            assert e.code == 403
            assert e.message == (
                'persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned '
                "pvc can be resized and the storageclass that provisions the pvc must "
                "support resize"
            )
        else:
            raise AssertionError("the default class let a claim grow")
        elastic = copy.deepcopy(reg.get(CLAIMS, "default", "elastic"))
        elastic["spec"]["resources"]["requests"]["storage"] = "3Gi"
        reg.update(CLAIMS, "default", "elastic", elastic)

        def grown() -> bool:
            c = reg.get(CLAIMS, "default", "elastic")
            return bool(c["status"]["capacity"]["storage"] == "3Gi")

        wait_for(grown, what="the claim's capacity grown")
        pv = reg.get(VOLUMES, None, reg.get(CLAIMS, "default", "elastic")["spec"]["volumeName"])
        assert pv["spec"]["capacity"]["storage"] == "3Gi"
        assert "VolumeResizeSuccessful" in reasons(reg, "elastic")
