"""A JSON patch's nulls are dropped as a request body's are (the patched object is
decoded into its typed form upstream): kubectl 1.20's ``rollout undo`` replaces the
template with one carrying ``creationTimestamp: null``, and a template kept with it
never matched its ReplicaSet's again (the deployment controller counted collisions)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore


def _res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, DEP = _res("Namespace"), _res("Deployment", "apps")


def test_json_patch_nulls_are_not_stored() -> None:
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    template = {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    reg.create(
        DEP,
        "default",
        {
            "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": template},
        },
    )
    undo = {**template, "metadata": {"creationTimestamp": None, "labels": {"a": "b"}}}
    ops = [{"op": "replace", "path": "/spec/template", "value": undo}]
    out = reg.patch(DEP, "default", "d", "application/json-patch+json", json.dumps(ops))
    assert out["spec"]["template"]["metadata"] == {"labels": {"a": "b"}}
    assert out["metadata"]["generation"] == 1  # nothing changed


def test_replace_without_defaults_bumps_no_generation() -> None:
    """Upstream compares decoded (defaulted) objects in PrepareForUpdate: a PUT of the
    manifest as written (``kubectl replace -f``) is no spec change."""
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    body: dict[str, Any] = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    made = reg.create(DEP, "default", json.loads(json.dumps(body)))
    same = reg.update(DEP, "default", "d", json.loads(json.dumps(body)))
    assert same["metadata"]["generation"] == made["metadata"]["generation"] == 1
    body["spec"]["replicas"] = 3
    assert reg.update(DEP, "default", "d", body)["metadata"]["generation"] == 2


POD, SVC = _res("Pod"), _res("Service")


def _pod_registry() -> Registry:
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    return reg


def test_a_null_list_item_is_its_types_zero_value() -> None:
    """Upstream decodes a body into its Go type, where a null array element is the zero
    value: a string list keeps an empty string in its place, a struct list an empty
    struct, which validation then names (before this, ``containers: [null]`` was an
    AttributeError, a 500)."""
    reg = _pod_registry()
    spec = {"containers": [{"name": "c", "image": "nginx", "args": [None, "x"]}]}
    out = reg.create(POD, "default", {"metadata": {"name": "a"}, "spec": spec})
    assert out["spec"]["containers"][0]["args"] == ["", "x"]
    for bad, field in [
        ({"containers": [None]}, "spec.containers[0].name: Required value"),
        (
            {"containers": [{"name": "c", "image": "nginx", "ports": [None]}]},
            "spec.containers[0].ports[0].containerPort: Required value",
        ),
    ]:
        with pytest.raises(ApiError) as e:
            reg.create(POD, "default", {"metadata": {"name": "b"}, "spec": bad})
        assert e.value.code == 422 and field in e.value.message
    assert [p["metadata"]["name"] for p in reg.list(POD, "default").items] == ["a"]


def test_a_null_list_item_in_an_update_and_a_status_write() -> None:
    reg = _pod_registry()
    svc = reg.create(SVC, "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    svc["spec"]["ports"] = [None]
    with pytest.raises(ApiError) as e:
        reg.update(SVC, "default", "s", svc)
    assert e.value.code == 422
    assert e.value.message == 'Service "s" is invalid: spec.ports[0].port: Required value'
    spec = {"containers": [{"name": "c", "image": "nginx"}]}
    pod = reg.create(POD, "default", {"metadata": {"name": "a"}, "spec": spec})
    pod["status"] = {"podIPs": [None]}
    with pytest.raises(ApiError) as e:
        reg.update(POD, "default", "a", pod, subresource="status")
    assert e.value.message == 'Pod "a" is invalid: status.podIPs[0].ip: Required value'
