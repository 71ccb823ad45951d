"""JSON patch (RFC 6902) and JSON merge patch (RFC 7386) as the PATCH handler applies
them (``handlers/patch.go`` ``applyJSPatch``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podnet.apiserver import errors, patch
from podnet.apiserver.resources import Resource, by_kind

JSON = "application/json-patch+json"
MERGE = "application/merge-patch+json"


def cm_res() -> Resource:
    r = by_kind("", "ConfigMap")
    assert r is not None
    return r


CM: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "labels": {"a": "1"}},
    "data": {"k": "v", "list": "x"},
}


def run(kind: str, body: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    return patch.apply_patch(cm_res(), current or CM, kind, json.dumps(body).encode())


def test_json_patch_operations() -> None:
    out = run(
        JSON,
        [
            {"op": "test", "path": "/data/k", "value": "v"},
            {"op": "add", "path": "/data/n", "value": "1"},
            {"op": "replace", "path": "/data/k", "value": "w"},
            {"op": "copy", "from": "/data/k", "path": "/data/c"},
            {"op": "move", "from": "/data/list", "path": "/data/moved"},
            {"op": "remove", "path": "/metadata/labels/a"},
        ],
    )
    assert out["data"] == {"k": "w", "n": "1", "c": "w", "moved": "x"}
    assert out["metadata"]["labels"] == {}
    assert CM["data"] == {"k": "v", "list": "x"}  # current untouched


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/data/k", "value": "other"}],
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "replace", "path": "/spec/x", "value": 1}],
        [{"op": "add", "path": "/no/such/parent", "value": 1}],
        [{"op": "frobnicate", "path": "/data"}],
    ],
)
def test_failed_json_patch_is_422_invalid(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(errors.ApiError) as e:
        run(JSON, ops)
    assert e.value.code == 422
    assert e.value.reason == "Invalid"
    assert e.value.message == "the server rejected our request due to an error in our request"


@pytest.mark.parametrize("body", [b"{", b'{"op": "add"}'])
def test_undecodable_json_patch_is_400(body: bytes) -> None:
    with pytest.raises(errors.ApiError) as e:
        patch.apply_patch(cm_res(), CM, JSON, body)
    assert e.value.code == 400
    assert e.value.reason == "BadRequest"


@pytest.mark.parametrize(
    ("target", "p", "expected"),
    [
        # RFC 7386 appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386_examples(
    target: dict[str, Any], p: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert patch.merge_patch(target, p) == expected


def test_merge_patch_replaces_lists_and_deletes_with_null() -> None:
    cur = dict(CM, spec={"ports": [{"port": 1}, {"port": 2}]})
    out = run(MERGE, {"spec": {"ports": [{"port": 3}]}, "data": {"k": None}}, cur)
    assert out["spec"]["ports"] == [{"port": 3}]
    assert out["data"] == {"list": "x"}


def test_merge_patch_bad_body_is_400() -> None:
    with pytest.raises(errors.ApiError) as e:
        patch.apply_patch(cm_res(), CM, MERGE, b"{nope")
    assert (e.value.code, e.value.message) == (400, "Invalid JSON Patch")
