"""Strategic merge patch as kube-apiserver applies it (``strategicpatch/patch.go``):
cases in the spirit of upstream's ``patch_test.go`` over a small test schema, then the
real Pod and Deployment schemas kubectl patches against."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podnet.apiserver import errors, patch
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.schemas import Node

SMP = "application/strategic-merge-patch+json"

ITEM: dict[str, Any] = {"type": "object"}
ITEM["properties"] = {
    "name": {"type": "string"},
    "value": {"type": "string"},
    "other": {"type": "string"},
    "mergingList": {
        "type": "array",
        "items": ITEM,
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-patch-merge-key": "name",
    },
    "nonMergingList": {"type": "array", "items": ITEM},
    "mergingIntList": {
        "type": "array",
        "items": {"type": "integer"},
        "x-kubernetes-patch-strategy": "merge",
    },
    "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
    "replacingItem": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
    "retainKeysMap": {
        "type": "object",
        "x-kubernetes-patch-strategy": "retainKeys",
        "properties": {"name": {}, "value": {}, "other": {}},
    },
}
SCHEMA = Node(ITEM)


def smp(original: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    return patch.strategic_merge_patch(original, p, SCHEMA)


CASES = [
    pytest.param(
        {"mergingIntList": [1, 2]},
        {"mergingIntList": [2, 3]},
        {"mergingIntList": [1, 2, 3]},
        id="scalars merge as a set, live order first",
    ),
    pytest.param(
        {"simpleMap": {"a": "1", "b": "2"}},
        {"simpleMap": {"$patch": "delete"}},
        {"simpleMap": {}},
        id="$patch delete on a map empties it",
    ),
    pytest.param(
        {"simpleMap": {"a": "1"}},
        {"simpleMap": {"$patch": "replace", "b": "2"}},
        {"simpleMap": {"b": "2"}},
        id="$patch replace on a map",
    ),
    pytest.param(
        {"simpleMap": {"a": "1", "b": "2"}},
        {"simpleMap": {"a": None, "c": "3"}},
        {"simpleMap": {"b": "2", "c": "3"}},
        id="null deletes a key",
    ),
    pytest.param(
        {"mergingList": [{"name": "1", "value": "a"}, {"name": "2", "value": "b"}]},
        {"mergingList": [{"name": "2", "other": "x"}, {"name": "3"}]},
        {
            "mergingList": [
                {"name": "1", "value": "a"},
                {"name": "2", "value": "b", "other": "x"},
                {"name": "3"},
            ]
        },
        id="maps merge by key, new items appended",
    ),
    pytest.param(
        {"mergingList": [{"name": "1"}, {"name": "2"}]},
        {"mergingList": [{"name": "1", "$patch": "delete"}]},
        {"mergingList": [{"name": "2"}]},
        id="$patch delete of a list item",
    ),
    pytest.param(
        {"mergingList": [{"name": "1"}, {"name": "2"}]},
        {"mergingList": [{"name": "3"}, {"$patch": "replace"}]},
        {"mergingList": [{"name": "3"}]},
        id="$patch replace of a list",
    ),
    pytest.param(
        {"nonMergingList": [{"name": "1"}, {"name": "2"}]},
        {"nonMergingList": [{"name": "3"}]},
        {"nonMergingList": [{"name": "3"}]},
        id="a list without strategy is replaced",
    ),
    pytest.param(
        {"replacingItem": {"a": 1, "b": 2}},
        {"replacingItem": {"c": 3}},
        {"replacingItem": {"c": 3}},
        id="patch strategy replace on a map",
    ),
    pytest.param(
        {"mergingIntList": [1, 2, 3]},
        {"$deleteFromPrimitiveList/mergingIntList": [2, 9]},
        {"mergingIntList": [1, 3]},
        id="$deleteFromPrimitiveList",
    ),
    pytest.param(
        {"mergingIntList": [1, 2]},
        {"$setElementOrder/mergingIntList": [3, 2, 1], "mergingIntList": [3]},
        {"mergingIntList": [3, 2, 1]},
        id="$setElementOrder orders primitives",
    ),
    pytest.param(
        {"mergingList": [{"name": "a", "value": "1"}, {"name": "b"}, {"name": "c"}]},
        {
            "$setElementOrder/mergingList": [{"name": "c"}, {"name": "a"}],
            "mergingList": [{"name": "a", "value": "2"}],
        },
        {"mergingList": [{"name": "b"}, {"name": "c"}, {"name": "a", "value": "2"}]},
        id="$setElementOrder orders maps; server-only items keep their live place",
    ),
    pytest.param(
        {"retainKeysMap": {"name": "n", "value": "v", "other": "o"}},
        {"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "w"}},
        {"retainKeysMap": {"name": "n", "value": "w"}},
        id="$retainKeys clears the unlisted fields",
    ),
    pytest.param(
        {},
        {"simpleMap": {"a": "1", "b": None}, "mergingList": [{"name": "x", "value": None}]},
        {"simpleMap": {"a": "1"}, "mergingList": [{"name": "x"}]},
        id="nulls inside new values are dropped",
    ),
    pytest.param(
        {"simpleMap": {"a": "1"}},
        {"simpleMap": "scalar"},
        {"simpleMap": "scalar"},
        id="a value of another type replaces",
    ),
]


@pytest.mark.parametrize(("original", "p", "expected"), CASES)
def test_strategic_merge_cases(
    original: dict[str, Any], p: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = json.dumps(original)
    assert smp(original, p) == expected
    assert json.dumps(original) == before  # never mutated


@pytest.mark.parametrize(
    "p",
    [
        {"retainKeysMap": {"$retainKeys": ["name"], "value": "w"}},
        {"$setElementOrder/mergingIntList": [1, 2], "mergingIntList": [3]},
        {"$setElementOrder/mergingIntList": [1, 2], "mergingIntList": [2, 1]},
    ],
)
def test_malformed_directives_are_bad_requests(p: dict[str, Any]) -> None:
    with pytest.raises(errors.ApiError) as e:
        smp({"retainKeysMap": {"name": "n"}, "mergingIntList": [1, 2]}, p)
    assert e.value.code == 400
    assert e.value.reason == "BadRequest"


def test_list_item_without_merge_key_is_an_error() -> None:
    with pytest.raises(errors.ApiError) as e:
        smp({"mergingList": [{"name": "1"}]}, {"mergingList": [{"value": "x"}]})
    assert e.value.code == 500


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "a"}, "finalizers": ["x/a"]},
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "nginx:1",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "side", "image": "busybox"},
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
    },
}


def pod_patch(p: dict[str, Any]) -> dict[str, Any]:
    return patch.apply_patch(res("", "Pod"), POD, SMP, json.dumps(p).encode())


def test_pod_containers_merge_by_name_and_env_by_name() -> None:
    out = pod_patch(
        {
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "3"}]}
                ]
            }
        }
    )
    web, side = out["spec"]["containers"]
    assert web["image"] == "nginx:2"
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert side == {"name": "side", "image": "busybox"}


def test_pod_container_delete_and_finalizers_merge() -> None:
    out = pod_patch(
        {
            "metadata": {"finalizers": ["x/b"], "labels": {"app": None, "tier": "web"}},
            "spec": {"containers": [{"name": "side", "$patch": "delete"}]},
        }
    )
    assert [c["name"] for c in out["spec"]["containers"]] == ["web"]
    assert sorted(out["metadata"]["finalizers"]) == ["x/a", "x/b"]
    assert out["metadata"]["labels"] == {"tier": "web"}


def test_pod_atomic_tolerations_are_replaced() -> None:
    out = pod_patch({"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}})
    assert out["spec"]["tolerations"] == [{"key": "other", "operator": "Exists"}]


def test_volumes_retain_keys_as_kubectl_apply_sends() -> None:
    # kubectl apply of a volume switched from emptyDir to configMap
    out = pod_patch(
        {
            "spec": {
                "$setElementOrder/volumes": [{"name": "v"}],
                "volumes": [
                    {"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "v"}
                ],
            }
        }
    )
    assert out["spec"]["volumes"] == [{"name": "v", "configMap": {"name": "cm"}}]


def test_deployment_strategy_retain_keys() -> None:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
        },
    }
    body = {"spec": {"replicas": 3, "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = patch.apply_patch(res("apps", "Deployment"), dep, SMP, json.dumps(body).encode())
    assert out["spec"] == {"replicas": 3, "strategy": {"type": "Recreate"}}


def test_custom_resources_refuse_strategic_merge_with_415() -> None:
    anp = res("policy.networking.k8s.io", "AdminNetworkPolicy")
    with pytest.raises(errors.ApiError) as e:
        patch.apply_patch(anp, {"spec": {}}, SMP, b"{}")
    assert e.value.code == 415
    assert e.value.reason == "UnsupportedMediaType"
    assert "application/merge-patch+json" in e.value.message
    assert "strategic" not in e.value.message


def test_content_type_parameters_are_ignored_and_unknown_types_refused() -> None:
    out = patch.apply_patch(
        res("", "Pod"), POD, SMP + "; charset=utf-8", b'{"metadata":{"labels":{"x":"y"}}}'
    )
    assert out["metadata"]["labels"] == {"app": "a", "x": "y"}
    with pytest.raises(errors.ApiError) as e:
        patch.apply_patch(res("", "Pod"), POD, "application/json", b"{}")
    assert e.value.code == 415


@pytest.mark.parametrize("body", [b"{not json", b"[1]"])
def test_undecodable_strategic_patch_is_400(body: bytes) -> None:
    with pytest.raises(errors.ApiError) as e:
        patch.apply_patch(res("", "Pod"), POD, SMP, body)
    assert e.value.code == 400
