"""ObjectMeta rules of upstream's ValidateObjectMetaAccessor that the schema cannot say
(k8s.io/apimachinery/pkg/api/validation/objectmeta.go): annotation keys and their total
size, one controller among the owner references, and the finalizers' names, which only
a create checks (ValidateObjectMetaAccessorUpdate does not call ValidateFinalizers)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore


def _res(kind: str) -> Resource:
    r = by_kind("", kind)
    assert r is not None
    return r


NS, CM = _res("Namespace"), _res("ConfigMap")
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character"
)
REF = {"apiVersion": "v1", "kind": "Pod", "uid": "u", "controller": True}


@pytest.fixture
def reg() -> Registry:
    r = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    r.create(NS, None, {"metadata": {"name": "default"}})
    return r


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (
            {"annotations": {"bad key!": "x"}},
            f'metadata.annotations: Invalid value: "bad key!": {NAME_PART}',
        ),
        (
            {"annotations": {"a": "x" * 262144}},  # 262145 bytes with the key
            "metadata.annotations: Too long: must have at most 262144 bytes",
        ),
        (
            {"ownerReferences": [{**REF, "name": "a"}, {**REF, "name": "b", "uid": "v"}]},
            'metadata.ownerReferences: Invalid value: [{"apiVersion":"v1","kind":"Pod",'
            '"uid":"u","controller":true,"name":"a"},{"apiVersion":"v1","kind":"Pod",'
            '"uid":"v","controller":true,"name":"b"}]: Only one reference can have '
            'Controller set to true. Found "true" in references for a and b',
        ),
        (
            {"finalizers": ["example.com/ok", "bad name!"]},
            f'metadata.finalizers: Invalid value: "bad name!": {NAME_PART}',
        ),
        (
            {"finalizers": ["orphan", "foregroundDeletion"]},
            'metadata.finalizers: Invalid value: ["orphan","foregroundDeletion"]: '
            "finalizer orphan and foregroundDeletion cannot be both set",
        ),
    ],
)
def test_create_refuses(reg: Registry, meta: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as e:
        reg.create(CM, "default", {"metadata": {"name": "c", **meta}})
    assert e.value.code == 422
    assert e.value.message == f'ConfigMap "c" is invalid: {message}'
    assert reg.list(CM, "default").items == []


def test_what_passes(reg: Registry) -> None:
    meta = {
        "name": "c",
        "annotations": {"Example.COM/Key": "x" * 1000, "a": "x" * 200_000},
        "ownerReferences": [{**REF, "name": "a"}, {**REF, "name": "b", "controller": False}],
        "finalizers": ["kubernetes", "example.com/cleanup", "orphan"],
    }
    assert reg.create(CM, "default", {"metadata": meta})["metadata"]["finalizers"][2] == "orphan"


def test_an_update_checks_annotations_but_not_finalizers(reg: Registry) -> None:
    cm = reg.create(CM, "default", {"metadata": {"name": "c"}})
    cm["metadata"]["finalizers"] = ["bad name!"]  # upstream's update lets it through
    cm = reg.update(CM, "default", "c", cm)
    cm["metadata"]["annotations"] = {"bad key!": "x"}
    with pytest.raises(ApiError) as e:
        reg.update(CM, "default", "c", cm)
    assert e.value.message == (
        f'ConfigMap "c" is invalid: metadata.annotations: Invalid value: "bad key!": {NAME_PART}'
    )
