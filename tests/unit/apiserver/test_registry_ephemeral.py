"""pods/ephemeralcontainers through the registry: adding only (storage.go
EphemeralContainersREST, validation.go ValidatePodEphemeralContainersUpdate)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.http.routes import request_info, resolve
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore

Obj = dict[str, Any]
SUB = "ephemeralcontainers"
SMP = "application/strategic-merge-patch+json"


def _res(kind: str) -> Resource:
    r = by_kind("", kind)
    assert r is not None
    return r


NS, POD = _res("Namespace"), _res("Pod")


@pytest.fixture
def reg() -> Registry:
    r = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    r.create(NS, None, {"metadata": {"name": "default"}})
    r.create(
        POD,
        "default",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    )
    return r


def _add(reg: Registry, container: Obj) -> Obj:
    body = {"spec": {"ephemeralContainers": [container]}}
    return reg.patch(POD, "default", "p", SMP, json.dumps(body), subresource=SUB)


def _causes(e: ApiError) -> list[tuple[str, str]]:
    details = e.details or {}
    return [(c["field"], c["message"]) for c in details.get("causes") or []]


def test_a_strategic_patch_appends_ephemeral_containers_with_defaults(reg: Registry) -> None:
    gen = reg.get(POD, "default", "p")["metadata"]["generation"]
    first = _add(reg, {"name": "d1", "image": "busybox", "targetContainerName": "c"})
    second = _add(reg, {"name": "d2", "image": "busybox:1.36", "command": ["sh"]})
    ecs = second["spec"]["ephemeralContainers"]
    assert sorted(c["name"] for c in ecs) == ["d1", "d2"]
    by = {c["name"]: c for c in ecs}
    assert by["d1"]["imagePullPolicy"] == "Always"
    assert by["d2"]["imagePullPolicy"] == "IfNotPresent"
    assert by["d2"]["terminationMessagePolicy"] == "File"
    assert second["metadata"]["generation"] == gen + 2
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["spec"]["containers"] == reg.get(POD, "default", "p")["spec"]["containers"]


def test_the_subresource_takes_nothing_but_ephemeral_containers(reg: Registry) -> None:
    body = {
        "metadata": {"labels": {"x": "y"}},
        "spec": {
            "containers": [{"name": "c", "image": "other"}],
            "ephemeralContainers": [{"name": "d", "image": "busybox"}],
        },
    }
    out = reg.patch(POD, "default", "p", SMP, json.dumps(body), subresource=SUB)
    assert out["spec"]["containers"][0]["image"] == "nginx"
    assert "labels" not in out["metadata"]
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["d"]


def test_changing_or_removing_an_existing_one_is_422(reg: Registry) -> None:
    _add(reg, {"name": "d1", "image": "busybox"})
    with pytest.raises(ApiError) as e:
        _add(reg, {"name": "d1", "image": "alpine"})
    assert e.value.code == 422
    assert _causes(e.value)[0][0] == "spec.ephemeralContainers[d1]"
    assert "may not be changed" in _causes(e.value)[0][1]
    current = copy.deepcopy(reg.get(POD, "default", "p", subresource=SUB))
    current["spec"]["ephemeralContainers"] = []
    with pytest.raises(ApiError) as e:
        reg.update(POD, "default", "p", current, subresource=SUB)
    assert e.value.code == 422
    assert "may not be removed" in _causes(e.value)[0][1]
    merge = {"spec": {"ephemeralContainers": None}}
    with pytest.raises(ApiError) as e:
        reg.patch(
            POD, "default", "p", "application/merge-patch+json", json.dumps(merge), subresource=SUB
        )
    assert e.value.code == 422


def test_validation_of_new_ephemeral_containers(reg: Registry) -> None:
    bad = {
        "name": "c",
        "image": "busybox",
        "ports": [{"containerPort": 80}],
        "resources": {"limits": {"cpu": "1"}},
        "readinessProbe": {"exec": {"command": ["true"]}},
        "targetContainerName": "nope",
    }
    with pytest.raises(ApiError) as e:
        _add(reg, bad)
    assert e.value.code == 422
    fields = {f for f, _ in _causes(e.value)}
    base = "spec.ephemeralContainers[0]"
    assert {
        f"{base}.name",
        f"{base}.ports",
        f"{base}.resources",
        f"{base}.readinessProbe",
        f"{base}.targetContainerName",
    } <= fields
    assert "ephemeralContainers" not in reg.get(POD, "default", "p")["spec"]


def test_main_resource_refuses_ephemeral_containers(reg: Registry) -> None:
    with pytest.raises(ApiError) as e:
        reg.create(
            POD,
            "default",
            {
                "metadata": {"name": "q"},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx"}],
                    "ephemeralContainers": [{"name": "d", "image": "busybox"}],
                },
            },
        )
    assert e.value.code == 422
    assert _causes(e.value) == [("spec.ephemeralContainers", "Forbidden: cannot be set on create")]
    body = {"spec": {"ephemeralContainers": [{"name": "d", "image": "busybox"}]}}
    with pytest.raises(ApiError) as e:
        reg.patch(POD, "default", "p", SMP, json.dumps(body))
    assert e.value.code == 422


def test_routes_serve_get_patch_update_only() -> None:
    path = "/api/v1/namespaces/default/pods/p/ephemeralcontainers"
    for method in ("GET", "PUT", "PATCH"):
        target = resolve(request_info(method, path, {}))
        assert target.info.subresource == SUB
    with pytest.raises(ApiError) as e:
        resolve(request_info("POST", path, {}))
    assert e.value.code == 405
