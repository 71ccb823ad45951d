"""Creates of PersistentVolumeClaims, PersistentVolumes and StorageClasses that
kube-apiserver refuses, refused here with the same 422 causes (field and message), and
the valid shapes accepted: one table per kind."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore

Obj = dict[str, Any]
MODES = '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'
QUANTITY_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


CLAIMS = res("", "PersistentVolumeClaim")
VOLUMES = res("", "PersistentVolume")
CLASSES = res("storage.k8s.io", "StorageClass")


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    r = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    r.create(res("", "Namespace"), None, {"metadata": {"name": "default"}})
    yield r
    r.store.close()


def refused(registry: Registry, r: Resource, obj: Obj) -> list[tuple[str, str, str]]:
    with pytest.raises(ApiError) as e:
        registry.create(r, "default" if r.namespaced else None, obj, dry_run=True)
    assert e.value.code == 422, e.value.message
    assert e.value.details is not None
    return [(c["reason"], c["field"], c["message"]) for c in e.value.details["causes"]]


def claim_spec(**spec: Any) -> Obj:
    base: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    base.update(spec)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            claim_spec(accessModes=None),
            [
                (
                    "FieldValueRequired",
                    "spec.accessModes",
                    "Required value: at least 1 access mode is required",
                )
            ],
        ),
        (
            claim_spec(accessModes=["RWO"]),
            [
                (
                    "FieldValueNotSupported",
                    "spec.accessModes",
                    f'Unsupported value: "RWO": supported values: {MODES}',
                )
            ],
        ),
        (
            claim_spec(accessModes=["ReadWriteOncePod", "ReadOnlyMany"]),
            [
                (
                    "FieldValueForbidden",
                    "spec.accessModes",
                    "Forbidden: may not use ReadWriteOncePod with other access modes",
                )
            ],
        ),
        (
            claim_spec(resources={"requests": {"cpu": "1"}}),
            [("FieldValueRequired", "spec.resources[storage]", "Required value")],
        ),
        (
            claim_spec(resources=None),
            [("FieldValueRequired", "spec.resources[storage]", "Required value")],
        ),
        (
            claim_spec(resources={"requests": {"storage": "0"}}),
            [
                (
                    "FieldValueInvalid",
                    "spec.resources[storage]",
                    'Invalid value: "0": must be greater than zero',
                )
            ],
        ),
        (
            claim_spec(resources={"requests": {"storage": "-1Gi"}}),
            [
                (
                    "FieldValueInvalid",
                    "spec.resources[storage]",
                    'Invalid value: "-1Gi": must be greater than zero',
                )
            ],
        ),
        (
            claim_spec(resources={"requests": {"storage": "lots"}}),
            [
                (
                    "FieldValueInvalid",
                    "spec.resources[storage]",
                    f'Invalid value: "lots": quantities must match the regular expression '
                    f"'{QUANTITY_RE}'",
                )
            ],
        ),
        (
            claim_spec(storageClassName="Fast_Disks"),
            [
                (
                    "FieldValueInvalid",
                    "spec.storageClassName",
                    'Invalid value: "Fast_Disks": a lowercase RFC 1123 subdomain must consist of '
                    "lower case alphanumeric characters, '-' or '.', and must start and end with "
                    "an alphanumeric character",  # podnet's names.dns1123_subdomain wording
                )
            ],
        ),
        (
            claim_spec(volumeMode="Raw"),
            [
                (
                    "FieldValueNotSupported",
                    "spec.volumeMode",
                    'Unsupported value: "Raw": supported values: "Block", "Filesystem"',
                )
            ],
        ),
        (
            claim_spec(dataSource={"kind": "Secret", "name": "s"}),
            [
                (
                    "FieldValueInvalid",
                    "spec.dataSource",
                    "Invalid value: \"Secret\": must be 'PersistentVolumeClaim' when "
                    "referencing the default apiGroup",
                )
            ],
        ),
    ],
)
def test_claim_refused(registry: Registry, spec: Obj, expected: list[tuple[str, str, str]]) -> None:
    assert refused(registry, CLAIMS, {"metadata": {"name": "c"}, "spec": spec}) == expected


def test_claim_errors_come_after_metadata_errors_in_one_answer(registry: Registry) -> None:
    obj = {"metadata": {"name": "C"}, "spec": claim_spec(accessModes=None)}
    found = refused(registry, CLAIMS, obj)
    assert [f for _, f, _ in found] == ["metadata.name", "spec.accessModes"]


def test_a_schema_error_is_reported_alone(registry: Registry) -> None:
    obj = {"metadata": {"name": "c"}, "spec": {"accessModes": "ReadWriteOnce"}}
    found = refused(registry, CLAIMS, obj)
    assert [f for _, f, _ in found] == ["spec.accessModes"]
    assert "is not of type 'array'" in found[0][2]


@pytest.mark.parametrize(
    "spec",
    [
        claim_spec(),
        claim_spec(accessModes=["ReadWriteOncePod"], volumeMode="Block", storageClassName=""),
        claim_spec(resources={"requests": {"storage": 1073741824}}),
        claim_spec(dataSource={"kind": "PersistentVolumeClaim", "name": "src"}),
    ],
)
def test_claim_accepted(registry: Registry, spec: Obj) -> None:
    out = registry.create(
        CLAIMS, "default", {"metadata": {"name": "ok"}, "spec": spec}, dry_run=True
    )
    assert out["status"]["phase"] == "Pending"


def volume_spec(**spec: Any) -> Obj:
    base: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"},
        "hostPath": {"path": "/srv/v"},
    }
    base.update(spec)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            volume_spec(accessModes=None),
            [("FieldValueRequired", "spec.accessModes", "Required value")],
        ),
        (
            volume_spec(capacity=None),
            [
                ("FieldValueRequired", "spec.capacity", "Required value"),
                (
                    "FieldValueNotSupported",
                    "spec.capacity",
                    'Unsupported value: {}: supported values: "storage"',
                ),
            ],
        ),
        (
            volume_spec(capacity={"storage": "0"}),
            [
                (
                    "FieldValueInvalid",
                    "spec.capacity[storage]",
                    'Invalid value: "0": must be greater than zero',
                )
            ],
        ),
        (
            volume_spec(hostPath=None),
            [("FieldValueRequired", "spec", "Required value: must specify a volume type")],
        ),
        (
            volume_spec(nfs={"server": "nfs.example", "path": "/export"}),
            [
                (
                    "FieldValueForbidden",
                    "spec.nfs",
                    "Forbidden: may not specify more than 1 volume type",
                )
            ],
        ),
        (
            volume_spec(hostPath={"path": "/srv/../etc", "type": "Dir"}),
            [
                (
                    "FieldValueInvalid",
                    "spec.hostPath.path",
                    "Invalid value: \"/srv/../etc\": must not contain '..'",
                ),
                (
                    "FieldValueNotSupported",
                    "spec.hostPath.type",
                    'Unsupported value: "Dir": supported values: "", "BlockDevice", '
                    '"CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", '
                    '"Socket"',
                ),
            ],
        ),
        (
            volume_spec(hostPath=None, local={"path": "/mnt/disk"}),
            [
                (
                    "FieldValueRequired",
                    "spec.nodeAffinity",
                    "Required value: Local volume requires node affinity",
                )
            ],
        ),
        (
            volume_spec(hostPath=None, nfs={"server": "", "path": "export"}),
            [
                ("FieldValueRequired", "spec.nfs.server", "Required value"),
                (
                    "FieldValueInvalid",
                    "spec.nfs.path",
                    'Invalid value: "export": must be an absolute path',
                ),
            ],
        ),
        (
            volume_spec(hostPath=None, csi={"driver": "d.example.com", "volumeHandle": ""}),
            [("FieldValueRequired", "spec.csi.volumeHandle", "Required value")],
        ),
        (
            volume_spec(persistentVolumeReclaimPolicy="Keep"),
            [
                (
                    "FieldValueNotSupported",
                    "spec.persistentVolumeReclaimPolicy",
                    'Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"',
                )
            ],
        ),
        (
            volume_spec(hostPath={"path": "/"}, persistentVolumeReclaimPolicy="Recycle"),
            [
                (
                    "FieldValueForbidden",
                    "spec.persistentVolumeReclaimPolicy",
                    "Forbidden: may not be 'recycle' for a hostPath mount of '/'",
                )
            ],
        ),
    ],
)
def test_volume_refused(
    registry: Registry, spec: Obj, expected: list[tuple[str, str, str]]
) -> None:
    assert refused(registry, VOLUMES, {"metadata": {"name": "v"}, "spec": spec}) == expected


@pytest.mark.parametrize(
    "spec",
    [
        volume_spec(),
        volume_spec(
            hostPath=None,
            local={"path": "/mnt/disk"},
            nodeAffinity={
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n"]}
                            ]
                        }
                    ]
                }
            },
        ),
        volume_spec(
            hostPath=None,
            csi={"driver": "d.example.com", "volumeHandle": "h"},
            volumeAttributesClassName="gold",
        ),
    ],
)
def test_volume_accepted(registry: Registry, spec: Obj) -> None:
    out = registry.create(VOLUMES, None, {"metadata": {"name": "ok"}, "spec": spec}, dry_run=True)
    assert out["status"]["phase"] == "Pending"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, [("FieldValueRequired", "provisioner", "Required value")]),
        ({"provisioner": ""}, [("FieldValueRequired", "provisioner", "Required value")]),
        (
            {"provisioner": "x.io/p", "reclaimPolicy": "Recycle"},
            [
                (
                    "FieldValueNotSupported",
                    "reclaimPolicy",
                    'Unsupported value: "Recycle": supported values: "Delete", "Retain"',
                )
            ],
        ),
        (
            {"provisioner": "x.io/p", "volumeBindingMode": "Later"},
            [
                (
                    "FieldValueNotSupported",
                    "volumeBindingMode",
                    'Unsupported value: "Later": supported values: "Immediate", '
                    '"WaitForFirstConsumer"',
                )
            ],
        ),
        (
            {"provisioner": "x.io/p", "parameters": {"": "v"}},
            [("FieldValueInvalid", "parameters", 'Invalid value: "": field can not be empty.')],
        ),
        (
            {"provisioner": "x.io/p", "parameters": {f"k{i}": "v" for i in range(513)}},
            [("FieldValueTooLong", "parameters", "Too long: must have at most 512 bytes")],
        ),
    ],
)
def test_storage_class_refused(
    registry: Registry, fields: Obj, expected: list[tuple[str, str, str]]
) -> None:
    assert refused(registry, CLASSES, {"metadata": {"name": "sc"}, **fields}) == expected


def test_storage_class_provisioner_is_a_qualified_name(registry: Registry) -> None:
    found = refused(registry, CLASSES, {"metadata": {"name": "sc"}, "provisioner": "a b"})
    assert [(r, f) for r, f, _ in found] == [("FieldValueInvalid", "provisioner")]
    assert found[0][2].startswith('Invalid value: "a b": ')


def test_ephemeral_volume_templates_are_claims_specs(registry: Registry) -> None:
    """validateEphemeralVolumeSource, in a Pod and in a workload's template."""
    containers = [{"name": "c", "image": "busybox"}]
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": containers, "volumes": [{"name": "w", "ephemeral": {}}]},
    }
    assert refused(registry, res("", "Pod"), pod) == [
        ("FieldValueRequired", "spec.volumes[0].ephemeral.volumeClaimTemplate", "Required value")
    ]
    template = {"spec": {"accessModes": ["ReadWriteOnce"]}}
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": containers,
                    "volumes": [{"name": "w", "ephemeral": {"volumeClaimTemplate": template}}],
                },
            },
        },
    }
    at = "spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]"
    assert refused(registry, res("apps", "Deployment"), deployment) == [
        ("FieldValueRequired", at, "Required value")
    ]
