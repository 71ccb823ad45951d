"""``kubectl get pvc/pv/sc`` tables as printers.go prints them (columns, wide columns,
cells), and the three resources as discovery announces them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from podnet.apiserver import discovery, openapi, tables
from podnet.apiserver.resources import Resource, by_kind, by_path
from podnet.apiserver.tables.printers import access_modes

NOW = datetime.fromisoformat("2026-01-10T12:00:00+00:00").timestamp()
CREATED = "2026-01-10T11:55:00Z"  # 5m before NOW
Obj = dict[str, Any]


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


def row(group: str, kind: str, obj: Obj) -> tuple[list[str], list[Any], list[int]]:
    meta = obj.setdefault("metadata", {})
    meta.setdefault("name", "n")
    meta["creationTimestamp"] = CREATED
    t = tables.table(res(group, kind), [obj], now=NOW)
    cols = t["columnDefinitions"]
    assert all(c["type"] == "string" for c in cols)
    return [c["name"] for c in cols], t["rows"][0]["cells"], [c["priority"] for c in cols]


PVC_COLUMNS = [
    "Name",
    "Status",
    "Volume",
    "Capacity",
    "Access Modes",
    "StorageClass",
    "VolumeAttributesClass",
    "Age",
    "VolumeMode",
]


def test_pending_claim() -> None:
    names, cells, prio = row(
        "",
        "PersistentVolumeClaim",
        {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "standard",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        },
    )
    assert names == PVC_COLUMNS
    assert prio == [0, 0, 0, 0, 0, 0, 0, 0, 1]
    # capacity and access modes only once bound (the volume's, from status)
    assert cells == ["n", "Pending", "", "", "", "standard", "<unset>", "5m", "Filesystem"]


def test_bound_claim_shows_the_volumes_capacity_and_modes() -> None:
    _, cells, _ = row(
        "",
        "PersistentVolumeClaim",
        {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": "pvc-123",
                "volumeAttributesClassName": "gold",
            },
            "status": {
                "phase": "Bound",
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            },
        },
    )
    assert cells == ["n", "Bound", "pvc-123", "2Gi", "RWO,RWX", "", "gold", "5m", "<unset>"]


def test_deleting_claim_and_beta_class_annotation() -> None:
    _, cells, _ = row(
        "",
        "PersistentVolumeClaim",
        {
            "metadata": {
                "deletionTimestamp": CREATED,
                "annotations": {"volume.beta.kubernetes.io/storage-class": "old"},
            },
            "spec": {"storageClassName": "new", "volumeName": "v"},
            "status": {"phase": "Bound"},
        },
    )
    assert cells[:6] == ["n", "Terminating", "v", "0", "", "old"]


def test_volume() -> None:
    names, cells, prio = row(
        "",
        "PersistentVolume",
        {
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteOncePod", "ReadOnlyMany", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "claimRef": {"namespace": "shop", "name": "data"},
                "storageClassName": "standard",
                "volumeMode": "Filesystem",
                "hostPath": {"path": "/x"},
            },
            "status": {"phase": "Released", "reason": "Gone"},
        },
    )
    assert names == [
        "Name",
        "Capacity",
        "Access Modes",
        "Reclaim Policy",
        "Status",
        "Claim",
        "StorageClass",
        "VolumeAttributesClass",
        "Reason",
        "Age",
        "VolumeMode",
    ]
    assert prio == [0] * 10 + [1]
    assert cells == [
        "n",
        "5Gi",
        "RWO,ROX,RWOP",
        "Delete",
        "Released",
        "shop/data",
        "standard",
        "<unset>",
        "Gone",
        "5m",
        "Filesystem",
    ]


def test_unclaimed_volume_has_an_empty_claim() -> None:
    _, cells, _ = row("", "PersistentVolume", {"spec": {}, "status": {"phase": "Available"}})
    assert cells[1:7] == ["0", "", "", "Available", "", ""]


@pytest.mark.parametrize(
    ("annotations", "name"),
    [
        ({"storageclass.kubernetes.io/is-default-class": "true"}, "standard (default)"),
        ({"storageclass.beta.kubernetes.io/is-default-class": "true"}, "standard (default)"),
        ({"storageclass.kubernetes.io/is-default-class": "True"}, "standard"),
        ({}, "standard"),
    ],
)
def test_storage_class(annotations: dict[str, str], name: str) -> None:
    names, cells, prio = row(
        "storage.k8s.io",
        "StorageClass",
        {
            "metadata": {"name": "standard", "annotations": annotations},
            "provisioner": "podnet.io/local-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        },
    )
    assert names == [
        "Name",
        "Provisioner",
        "ReclaimPolicy",
        "VolumeBindingMode",
        "AllowVolumeExpansion",
        "Age",
    ]
    assert prio == [0] * 6
    assert cells == [name, "podnet.io/local-path", "Delete", "Immediate", False, "5m"]


def test_storage_class_unset_fields_print_their_defaults() -> None:
    _, cells, _ = row(
        "storage.k8s.io", "StorageClass", {"provisioner": "p.io/x", "allowVolumeExpansion": True}
    )
    assert cells == ["n", "p.io/x", "Delete", "Immediate", True, "5m"]


@pytest.mark.parametrize(
    ("modes", "text"),
    [
        ([], ""),
        (None, ""),
        (
            ["ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce"],
            "RWO,ROX,RWX,RWOP",
        ),
        (["ReadWriteOnce", "ReadWriteOnce"], "RWO"),
        (["Unknown"], ""),
    ],
)
def test_access_modes(modes: Any, text: str) -> None:
    assert access_modes(modes) == text


@pytest.mark.parametrize(
    ("group", "plural", "kind", "namespaced", "short"),
    [
        ("", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvc"),
        ("", "persistentvolumes", "PersistentVolume", False, "pv"),
        ("storage.k8s.io", "storageclasses", "StorageClass", False, "sc"),
    ],
)
def test_discovery(group: str, plural: str, kind: str, namespaced: bool, short: str) -> None:
    r = by_path(group, "v1", plural)
    assert r is not None and r.kind == kind
    listed = discovery.resource_list(group, "v1")
    assert listed is not None
    entries = {e["name"]: e for e in listed["resources"]}
    entry = entries[plural]
    assert (entry["namespaced"], entry["shortNames"], entry["kind"]) == (namespaced, [short], kind)
    assert "categories" not in entry  # not in "all", as upstream
    has_status = f"{plural}/status" in entries
    assert has_status is (group == "")


def test_openapi_documents_carry_the_storage_kinds() -> None:
    """kubectl explain and client-side validation read these."""
    core = json.loads(openapi.v3_document("api/v1") or b"{}")
    assert "/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}/status" in core["paths"]
    assert "/api/v1/persistentvolumes/{name}/status" in core["paths"]
    storage = json.loads(openapi.v3_document("apis/storage.k8s.io/v1") or b"{}")
    assert "/apis/storage.k8s.io/v1/storageclasses/{name}" in storage["paths"]
    assert "io.k8s.api.storage.v1.StorageClass" in storage["components"]["schemas"]
    assert "io.k8s.api.core.v1.PersistentVolumeClaim" in openapi.v2_document()["definitions"]
