"""pods/status writes: validated once, as podStatusStrategy and ValidatePodStatusUpdate do
(pkg/registry/core/pod/strategy.go, pkg/apis/core/validation/validation.go)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.live.kubelet_write import status_body

Obj = dict[str, Any]


def _res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, POD, DEP = _res("Namespace"), _res("Pod"), _res("Deployment", "apps")


@pytest.fixture
def reg() -> Registry:
    r = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    r.create(NS, None, {"metadata": {"name": "default"}})
    return r


def make_pod(reg: Registry, restart: str = "Always") -> Obj:
    body = {
        "metadata": {"name": "p", "ownerReferences": []},
        "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "nginx"}]},
    }
    return reg.create(POD, "default", body)


def put_status(reg: Registry, pod: Obj, status: Obj, **kw: Any) -> Obj:
    body = copy.deepcopy(pod)
    body["status"] = status
    return reg.update(POD, "default", "p", body, subresource="status", **kw)


def running(ip: str = "10.244.0.5") -> Obj:
    return {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {
                "name": "c",
                "ready": True,
                "restartCount": 0,
                "image": "nginx",
                "imageID": "",
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }


def terminated(code: int) -> Obj:
    st = running()
    st["phase"] = "Succeeded" if code == 0 else "Failed"
    st["containerStatuses"][0]["state"] = {"terminated": {"exitCode": code}}
    return st


def reasons(e: pytest.ExceptionInfo[ApiError]) -> list[tuple[str, str]]:
    assert e.value.code == 422
    causes = (e.value.details or {}).get("causes") or []
    return [(c["reason"], c["field"]) for c in causes]


def test_status_write_keeps_spec_and_metadata_takes_status(reg: Registry) -> None:
    pod = make_pod(reg)
    body = copy.deepcopy(pod)
    body["spec"]["containers"][0]["image"] = "evil"
    body["spec"]["nodeName"] = "elsewhere"
    body["metadata"]["labels"] = {"x": "y"}  # podStatusStrategy takes labels
    body["metadata"]["ownerReferences"] = [  # ... but never ownerReferences
        {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u"}
    ]
    body["metadata"]["generation"] = 7  # rest.BeforeUpdate: the stored one
    body["status"] = running()
    out = reg.update(POD, "default", "p", body, subresource="status")
    assert out["spec"] == pod["spec"]
    assert out["metadata"]["labels"] == {"x": "y"}
    assert out["metadata"].get("ownerReferences") == pod["metadata"].get("ownerReferences")
    assert out["metadata"]["generation"] == pod["metadata"]["generation"]
    assert out["status"]["podIP"] == "10.244.0.5"
    assert out["status"]["qosClass"] == "BestEffort"  # backfilled: the writer left it out
    assert int(out["metadata"]["resourceVersion"]) > int(pod["metadata"]["resourceVersion"])
    assert reg.get(POD, "default", "p")["spec"] == pod["spec"]


def test_minimal_kubelet_body_is_a_compare_and_swap(reg: Registry) -> None:
    pod = make_pod(reg)
    out = reg.update(POD, "default", "p", status_body(pod, running()), subresource="status")
    assert out["status"]["phase"] == "Running" and out["spec"] == pod["spec"]
    with pytest.raises(ApiError) as e:  # the same, now stale, resourceVersion
        reg.update(POD, "default", "p", status_body(pod, running()), subresource="status")
    assert e.value.code == 409


def test_wrong_type_in_status_is_invalid_and_changes_nothing(reg: Registry) -> None:
    pod = make_pod(reg)
    bad = running()
    bad["containerStatuses"][0]["restartCount"] = "many"
    with pytest.raises(ApiError) as e:
        put_status(reg, pod, bad)
    assert e.value.code == 422
    assert "restartCount" in e.value.message
    assert reg.get(POD, "default", "p") == pod


def test_unknown_status_field_warns_or_is_refused(reg: Registry) -> None:
    pod = make_pod(reg)
    extra = running()
    extra["containerStatuses"][0]["colour"] = "blue"
    with pytest.raises(ApiError) as e:
        put_status(reg, pod, extra, field_validation="Strict")
    assert e.value.code == 400 and "colour" in e.value.message
    warnings: list[str] = []
    out = put_status(reg, pod, extra, warnings=warnings)
    assert warnings == ['unknown field "status.containerStatuses[0].colour"']
    assert "colour" not in out["status"]["containerStatuses"][0]
    assert reg.get(POD, "default", "p")["spec"] == pod["spec"]


@pytest.mark.parametrize(
    ("restart", "code", "allowed"),
    [
        ("Never", 0, False),
        ("Never", 1, False),
        ("OnFailure", 0, False),
        ("OnFailure", 1, True),
        ("Always", 0, True),
    ],
)
def test_terminated_container_may_not_run_again(
    reg: Registry, restart: str, code: int, allowed: bool
) -> None:
    pod = put_status(reg, make_pod(reg, restart), terminated(code))
    if allowed:
        assert put_status(reg, pod, running())["status"]["phase"] == "Running"
        return
    with pytest.raises(ApiError) as e:
        put_status(reg, pod, running())
    assert reasons(e) == [("FieldValueForbidden", "status.containerStatuses[0].state")]


@pytest.mark.parametrize(
    ("ips", "field"),
    [
        (["10.0.0.300"], "status.podIPs[0]"),
        (["10.0.0.1", "10.0.0.2"], "status.podIPs"),
        (["10.0.0.1", "fd00::1", "10.0.0.2"], "status.podIPs"),
    ],
)
def test_pod_ips_are_ips_one_per_family(reg: Registry, ips: list[str], field: str) -> None:
    pod = make_pod(reg)
    st = running(ips[0])
    st["podIPs"] = [{"ip": ip} for ip in ips]
    with pytest.raises(ApiError) as e:
        put_status(reg, pod, st)
    assert reasons(e) == [("FieldValueInvalid", field)]


def test_dual_stack_pod_ips_and_custom_conditions_are_accepted(reg: Registry) -> None:
    st = running()
    st["podIPs"] = [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]
    st["conditions"].append({"type": "example.com/Warm", "status": "True"})
    out = put_status(reg, make_pod(reg), st)
    assert len(out["status"]["podIPs"]) == 2


def test_condition_type_must_be_a_qualified_name(reg: Registry) -> None:
    st = running()
    st["conditions"].append({"type": "not a name!", "status": "True"})
    with pytest.raises(ApiError) as e:
        put_status(reg, make_pod(reg), st)
    assert reasons(e) == [("FieldValueInvalid", "status.conditions[1].Type")]


def test_observed_generation_kept_when_left_out(reg: Registry) -> None:
    st = running()
    st["observedGeneration"] = 1
    st["conditions"][0]["observedGeneration"] = 1
    pod = put_status(reg, make_pod(reg), st)
    out = put_status(reg, pod, running())
    assert out["status"]["observedGeneration"] == 1
    assert out["status"]["conditions"][0]["observedGeneration"] == 1


def test_other_kinds_status_still_validated(reg: Registry) -> None:
    dep = reg.create(
        DEP,
        "default",
        {
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    body = copy.deepcopy(dep)
    body["status"] = {"replicas": "three"}
    with pytest.raises(ApiError) as e:
        reg.update(DEP, "default", "d", body, subresource="status")
    assert e.value.code == 422
    body["status"] = {"replicas": 3}
    assert reg.update(DEP, "default", "d", body, subresource="status")["status"] == {"replicas": 3}
