"""PersistentVolumeClaims, PersistentVolumes and StorageClasses through the real
Registry: defaults, the DefaultStorageClass and StorageObjectInUseProtection admission
plugins, the status subresource, what updates may change, and the default class
``podnet up`` bootstraps."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest

from podnet.apiserver.admission.storage import (
    DEFAULT_CLASS,
    DEFAULT_CLASS_ANNOTATION,
    PROVISIONER,
    PV_PROTECTION,
    PVC_PROTECTION,
    default_storage_class,
)
from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.live.core.bootstrap import bootstrap

Obj = dict[str, Any]


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


CLAIMS = res("", "PersistentVolumeClaim")
VOLUMES = res("", "PersistentVolume")
CLASSES = res("storage.k8s.io", "StorageClass")
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> Iterator[Registry]:
    r = Registry(MemoryStore(), clock=clock, rng=random.Random(0))
    r.create(res("", "Namespace"), None, {"metadata": {"name": "default"}})
    yield r
    r.store.close()


def claim(name: str = "data", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


def volume(name: str = "pv1", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "5Gi"},
            "hostPath": {"path": "/tmp/pv1"},
            **spec,
        },
    }


def storage_class(name: str, default: bool = False, **fields: Any) -> Obj:
    meta: Obj = {"name": name}
    if default:
        meta["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
    return {"metadata": meta, "provisioner": "example.com/x", **fields}


def causes(e: pytest.ExceptionInfo[ApiError]) -> list[tuple[str, str]]:
    assert e.value.code == 422, e.value.message
    assert e.value.details is not None
    return [(c["field"], c["message"]) for c in e.value.details["causes"]]


# -- defaults and create-time status -------------------------------------------------------


def test_claim_defaults_and_status(registry: Registry) -> None:
    out = registry.create(CLAIMS, "default", {**claim(), "status": {"phase": "Bound"}})
    assert out["spec"]["volumeMode"] == "Filesystem"
    assert out["status"] == {"phase": "Pending"}  # a create's status is the server's
    assert out["metadata"]["finalizers"] == [PVC_PROTECTION]
    assert "generation" not in out["metadata"]


def test_volume_defaults_and_status(registry: Registry) -> None:
    out = registry.create(VOLUMES, None, {**volume(), "status": {"phase": "Available"}})
    assert out["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert out["spec"]["volumeMode"] == "Filesystem"
    assert out["status"] == {"phase": "Pending", "lastPhaseTransitionTime": "2023-11-14T22:13:20Z"}
    assert out["metadata"]["finalizers"] == [PV_PROTECTION]
    assert "namespace" not in out["metadata"]


def test_given_defaults_are_kept(registry: Registry) -> None:
    out = registry.create(
        VOLUMES, None, volume(persistentVolumeReclaimPolicy="Delete", volumeMode="Block")
    )
    assert out["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert out["spec"]["volumeMode"] == "Block"


def test_storage_class_defaults(registry: Registry) -> None:
    out = registry.create(CLASSES, None, storage_class("fast", parameters={}))
    assert out["reclaimPolicy"] == "Delete"
    assert out["volumeBindingMode"] == "Immediate"
    assert "parameters" not in out  # omitempty, as the typed round trip drops it
    kept = registry.create(
        CLASSES,
        None,
        storage_class("slow", reclaimPolicy="Retain", volumeBindingMode="WaitForFirstConsumer"),
    )
    assert (kept["reclaimPolicy"], kept["volumeBindingMode"]) == ("Retain", "WaitForFirstConsumer")


# -- DefaultStorageClass -------------------------------------------------------------------


def test_a_claim_without_a_class_gets_the_default_one(registry: Registry) -> None:
    registry.create(CLASSES, None, storage_class("plain"))
    registry.create(CLASSES, None, storage_class("fast", default=True))
    out = registry.create(CLAIMS, "default", claim())
    assert out["spec"]["storageClassName"] == "fast"


def test_an_explicit_class_or_empty_class_is_kept(registry: Registry) -> None:
    registry.create(CLASSES, None, storage_class("fast", default=True))
    assert registry.create(CLAIMS, "default", claim("a", storageClassName="plain"))["spec"][
        "storageClassName"
    ] == ("plain")
    # "" asks for no class at all (pre-provisioned volumes only)
    assert registry.create(CLAIMS, "default", claim("b", storageClassName=""))["spec"][
        "storageClassName"
    ] == ("")
    # the beta annotation names the class too: no storageClassName added
    beta = claim("c")
    beta["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "old"}
    assert "storageClassName" not in registry.create(CLAIMS, "default", beta)["spec"]


def test_no_default_class_leaves_the_claim_without_one(registry: Registry) -> None:
    registry.create(CLASSES, None, storage_class("plain"))
    notdefault = storage_class("other")
    notdefault["metadata"]["annotations"] = {DEFAULT_CLASS_ANNOTATION: "yes"}  # not "true"
    registry.create(CLASSES, None, notdefault)
    assert "storageClassName" not in registry.create(CLAIMS, "default", claim())["spec"]


def test_the_newest_default_class_wins_then_the_first_name(
    registry: Registry, clock: Clock
) -> None:
    registry.create(CLASSES, None, storage_class("old", default=True))
    clock.now += 10
    registry.create(CLASSES, None, storage_class("zeta", default=True))
    beta = storage_class("alpha")
    beta["metadata"]["annotations"] = {"storageclass.beta.kubernetes.io/is-default-class": "true"}
    registry.create(CLASSES, None, beta)  # same second as zeta: first by name
    assert registry.create(CLAIMS, "default", claim("a"))["spec"]["storageClassName"] == "alpha"
    clock.now += 10
    registry.create(CLASSES, None, storage_class("new", default=True))
    assert registry.create(CLAIMS, "default", claim("b"))["spec"]["storageClassName"] == "new"


def test_default_class_is_applied_on_create_only(registry: Registry) -> None:
    registry.create(CLAIMS, "default", claim())
    registry.create(CLASSES, None, storage_class("fast", default=True))
    current = registry.get(CLAIMS, "default", "data")
    labelled = copy.deepcopy(current)
    labelled["metadata"]["labels"] = {"a": "b"}
    out = registry.update(CLAIMS, "default", "data", labelled)
    assert "storageClassName" not in out["spec"]
    assert out["metadata"]["labels"] == {"a": "b"}


def test_disabled_plugins_do_nothing(registry: Registry) -> None:
    registry.create(CLASSES, None, storage_class("fast", default=True))
    registry.disabled_admission = frozenset({"DefaultStorageClass", "StorageObjectInUseProtection"})
    out = registry.create(CLAIMS, "default", claim())
    assert "storageClassName" not in out["spec"]
    assert "finalizers" not in out["metadata"]
    assert "finalizers" not in registry.create(VOLUMES, None, volume())["metadata"]


# -- StorageObjectInUseProtection ----------------------------------------------------------


def test_protection_finalizer_is_added_once_and_only_on_create(registry: Registry) -> None:
    given = claim()
    given["metadata"]["finalizers"] = ["example.com/keep", PVC_PROTECTION]
    out = registry.create(CLAIMS, "default", given)
    assert out["metadata"]["finalizers"] == ["example.com/keep", PVC_PROTECTION]
    # the pvc-protection controller removes it: an update does not put it back
    released = copy.deepcopy(out)
    released["metadata"]["finalizers"] = ["example.com/keep"]
    out = registry.update(CLAIMS, "default", "data", released)
    assert out["metadata"]["finalizers"] == ["example.com/keep"]


def test_a_protected_claim_waits_for_its_finalizer(registry: Registry) -> None:
    registry.create(CLAIMS, "default", claim())
    gone = registry.delete(CLAIMS, "default", "data")
    assert gone["metadata"]["deletionTimestamp"]
    current = registry.get(CLAIMS, "default", "data")
    released = copy.deepcopy(current)
    released["metadata"]["finalizers"] = []
    registry.update(CLAIMS, "default", "data", released)
    with pytest.raises(ApiError) as e:
        registry.get(CLAIMS, "default", "data")
    assert e.value.code == 404


# -- status subresource --------------------------------------------------------------------


def test_status_is_ignored_on_main_writes_and_spec_on_status_writes(registry: Registry) -> None:
    registry.create(CLAIMS, "default", claim())
    current = registry.get(CLAIMS, "default", "data")
    body = copy.deepcopy(current)
    body["status"] = {"phase": "Bound"}
    body["metadata"]["labels"] = {"x": "y"}
    out = registry.update(CLAIMS, "default", "data", body)
    assert out["status"] == {"phase": "Pending"} and out["metadata"]["labels"] == {"x": "y"}
    body = copy.deepcopy(out)
    body["spec"]["accessModes"] = ["ReadWriteMany"]
    body["status"] = {"phase": "Bound", "capacity": {"storage": "5Gi"}}
    out = registry.update(CLAIMS, "default", "data", body, subresource="status")
    assert out["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert out["status"] == {"phase": "Bound", "capacity": {"storage": "5Gi"}}


def test_volume_phase_changes_stamp_the_transition_time(registry: Registry) -> None:
    registry.create(VOLUMES, None, volume())
    made = registry.get(VOLUMES, None, "pv1")["status"]["lastPhaseTransitionTime"]
    # the same phase, time left out: the stored one is kept
    out = registry.update(
        VOLUMES, None, "pv1", {"metadata": {}, "status": {"phase": "Pending"}}, subresource="status"
    )
    assert out["status"]["lastPhaseTransitionTime"] == made
    # a new phase: a new time (the writer's own is kept when it gives one)
    given = {"phase": "Available", "lastPhaseTransitionTime": "2030-01-01T00:00:00Z"}
    out = registry.update(
        VOLUMES, None, "pv1", {"metadata": {}, "status": given}, subresource="status"
    )
    assert out["status"]["lastPhaseTransitionTime"] == "2030-01-01T00:00:00Z"
    out = registry.update(
        VOLUMES, None, "pv1", {"metadata": {}, "status": {"phase": "Bound"}}, subresource="status"
    )
    assert out["status"]["lastPhaseTransitionTime"] not in (made, "2030-01-01T00:00:00Z")


# -- updates ------------------------------------------------------------------------------


def _update(registry: Registry, r: Resource, name: str, **spec: Any) -> Obj:
    ns = "default" if r.namespaced else None
    body = copy.deepcopy(registry.get(r, ns, name))
    body.setdefault("spec", {}).update(spec)
    return registry.update(r, ns, name, body)


def test_claim_spec_is_immutable(registry: Registry) -> None:
    registry.create(CLAIMS, "default", claim(storageClassName="fast"))
    with pytest.raises(ApiError) as e:
        _update(registry, CLAIMS, "data", accessModes=["ReadWriteMany"])
    assert causes(e) == [
        (
            "spec",
            "Forbidden: spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims\n"
            "  core.PersistentVolumeClaimSpec{\n"
            '- \tAccessModes: ["ReadWriteOnce"],\n'
            '+ \tAccessModes: ["ReadWriteMany"],\n'
            "  }",
        )
    ]
    with pytest.raises(ApiError) as e:
        _update(registry, CLAIMS, "data", storageClassName="slow")
    assert causes(e)[0][0] == "spec"


def test_volume_name_is_set_once(registry: Registry) -> None:
    registry.create(CLAIMS, "default", claim(storageClassName=""))
    out = _update(registry, CLAIMS, "data", volumeName="pv1")  # the binder's write
    assert out["spec"]["volumeName"] == "pv1"
    with pytest.raises(ApiError) as e:
        _update(registry, CLAIMS, "data", volumeName="pv2")
    assert causes(e)[0][1].startswith("Forbidden: spec is immutable after creation")


def test_a_class_may_be_set_where_there_was_none(registry: Registry) -> None:
    registry.create(CLAIMS, "default", claim())
    assert _update(registry, CLAIMS, "data", storageClassName="late")["spec"][
        "storageClassName"
    ] == ("late")


def test_storage_request_changes_only_on_bound_claims(registry: Registry) -> None:
    # validation alone: the resize admission (a class allowing expansion) is tested in
    # tests/unit/controllers/test_persistentvolume.py
    registry.disabled_admission = frozenset({"PersistentVolumeClaimResize"})
    registry.create(CLAIMS, "default", claim(storageClassName=""))
    with pytest.raises(ApiError) as e:
        _update(registry, CLAIMS, "data", resources={"requests": {"storage": "2Gi"}})
    assert causes(e)[0][0] == "spec"  # Pending: immutable
    bound = copy.deepcopy(registry.get(CLAIMS, "default", "data"))
    bound["status"] = {"phase": "Bound", "capacity": {"storage": "2Gi"}}
    registry.update(CLAIMS, "default", "data", bound, subresource="status")
    out = _update(registry, CLAIMS, "data", resources={"requests": {"storage": "4Gi"}})
    assert out["spec"]["resources"]["requests"]["storage"] == "4Gi"
    # back down, but above the volume's capacity: RecoverVolumeExpansionFailure
    out = _update(registry, CLAIMS, "data", resources={"requests": {"storage": "3Gi"}})
    assert out["spec"]["resources"]["requests"]["storage"] == "3Gi"
    with pytest.raises(ApiError) as e:
        _update(registry, CLAIMS, "data", resources={"requests": {"storage": "2Gi"}})
    assert causes(e) == [
        (
            "spec.resources.requests.storage",
            "Forbidden: field can not be less than status.capacity",
        )
    ]
    with pytest.raises(ApiError) as e:
        _update(registry, CLAIMS, "data", volumeMode="Block")
    assert ("volumeMode", 'Invalid value: "Block": field is immutable') in causes(e)


def test_volume_source_is_immutable_but_claim_ref_is_not(registry: Registry) -> None:
    registry.create(VOLUMES, None, volume())
    ref = {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"}
    out = _update(registry, VOLUMES, "pv1", claimRef=ref, capacity={"storage": "6Gi"})
    assert out["spec"]["claimRef"] == ref
    with pytest.raises(ApiError) as e:
        _update(registry, VOLUMES, "pv1", hostPath={"path": "/tmp/other"})
    assert causes(e) == [
        (
            "spec.persistentvolumesource",
            "Forbidden: spec.persistentvolumesource is immutable after creation\n"
            "  core.PersistentVolumeSource{\n"
            '- \tHostPath: {"path":"/tmp/pv1"},\n'
            '+ \tHostPath: {"path":"/tmp/other"},\n'
            "  }",
        )
    ]
    with pytest.raises(ApiError) as e:
        _update(registry, VOLUMES, "pv1", volumeMode="Block")
    assert causes(e) == [("volumeMode", 'Invalid value: "Block": field is immutable')]


def test_storage_class_fields_are_fixed(registry: Registry) -> None:
    registry.create(CLASSES, None, storage_class("fast", parameters={"a": "1"}))
    body = copy.deepcopy(registry.get(CLASSES, None, "fast"))
    body.update(
        provisioner="other.io/y",
        parameters={"a": "2"},
        reclaimPolicy="Retain",
        volumeBindingMode="WaitForFirstConsumer",
    )
    with pytest.raises(ApiError) as e:
        registry.update(CLASSES, None, "fast", body)
    assert causes(e) == [
        ("parameters", "Forbidden: updates to parameters are forbidden."),
        ("provisioner", "Forbidden: updates to provisioner are forbidden."),
        ("reclaimPolicy", "Forbidden: updates to reclaimPolicy are forbidden."),
        ("volumeBindingMode", 'Invalid value: "WaitForFirstConsumer": field is immutable'),
    ]
    # metadata and allowVolumeExpansion may change (kubectl's default-class switch)
    body = copy.deepcopy(registry.get(CLASSES, None, "fast"))
    body["metadata"]["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
    body["allowVolumeExpansion"] = True
    out = registry.update(CLASSES, None, "fast", body)
    assert out["allowVolumeExpansion"] is True


# -- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_makes_the_default_class_once_and_keeps_an_edited_one() -> None:
    r = Registry(MemoryStore(), clock=lambda: T0)
    bootstrap(r)
    made = r.get(CLASSES, None, DEFAULT_CLASS)
    assert made["provisioner"] == PROVISIONER
    assert made["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "true"}
    assert (made["reclaimPolicy"], made["volumeBindingMode"]) == ("Delete", "Immediate")
    edited = copy.deepcopy(made)
    edited["metadata"]["annotations"] = {DEFAULT_CLASS_ANNOTATION: "false"}
    r.update(CLASSES, None, DEFAULT_CLASS, edited)
    bootstrap(r)  # a restart: nothing changes
    again = r.get(CLASSES, None, DEFAULT_CLASS)
    assert again["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "false"}
    assert [c["metadata"]["name"] for c in r.list(CLASSES, None).items] == [DEFAULT_CLASS]
    out = r.create(CLAIMS, "default", claim())
    assert "storageClassName" not in out["spec"]  # no default class any more


def test_default_storage_class_is_a_fresh_object() -> None:
    a = default_storage_class()
    a["metadata"]["annotations"].clear()
    assert default_storage_class()["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "true"}
