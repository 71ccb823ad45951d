"""EndpointSlice and Endpoints decisions (pure) and the loop following pod readiness."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import ENDPOINTS, PODS, SERVICES, SLICES, mark, running, wait_for

from podnet.apiserver.registry import Registry
from podnet.controllers.endpointslice import (
    desired_endpoints,
    endpoints_subsets,
    plan_slices,
)


def svc(**spec: Any) -> dict[str, Any]:
    base = {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "web"}],
    }
    return {
        "metadata": {"name": "s", "namespace": "default", "uid": "svc-uid"},
        "spec": {**base, **spec},
    }


def pod(
    name: str,
    ip: str | None,
    *,
    ready: bool = True,
    port: int = 8080,
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "labels": {"app": "web"},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if ip:
        status["podIP"] = ip
    return {
        "metadata": meta,
        "spec": {
            "nodeName": "node-0",
            "containers": [{"name": "c", "ports": [{"name": "web", "containerPort": port}]}],
            **spec,
        },
        "status": status,
    }


def test_endpoints_carry_conditions_target_refs_and_skip_pods_without_ip() -> None:
    got = desired_endpoints(
        svc(),
        [pod("a", "10.244.0.2"), pod("b", "10.244.0.3", ready=False), pod("c", None)],
    )
    assert list(got) == [(("http", 8080, "TCP"),)]
    eps = got[(("http", 8080, "TCP"),)]
    assert eps["10.244.0.2"] == {
        "addresses": ["10.244.0.2"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"},
        "nodeName": "node-0",
    }
    assert eps["10.244.0.3"]["conditions"] == {
        "ready": False,
        "serving": False,
        "terminating": False,
    }


def test_terminating_is_not_ready_unless_published() -> None:
    p = pod("a", "10.244.0.2", deleting=True)
    (eps,) = desired_endpoints(svc(), [p]).values()
    assert eps["10.244.0.2"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    (eps,) = desired_endpoints(svc(publishNotReadyAddresses=True), [p]).values()
    assert eps["10.244.0.2"]["conditions"]["ready"] is True


def test_named_port_resolving_differently_splits_slices_and_hostname_needs_subdomain() -> None:
    pods = [
        pod("a", "10.244.0.2", port=8080, hostname="a", subdomain="s"),
        pod("b", "10.244.0.3", port=9090, hostname="b"),
    ]
    got = desired_endpoints(svc(), pods)
    assert sorted(got) == [(("http", 8080, "TCP"),), (("http", 9090, "TCP"),)]
    assert got[(("http", 8080, "TCP"),)]["10.244.0.2"]["hostname"] == "a"
    assert "hostname" not in got[(("http", 9090, "TCP"),)]["10.244.0.3"]
    plan = plan_slices(got, [])
    assert [(ports, len(eps)) for ports, eps in plan.create] == [
        ((("http", 8080, "TCP"),), 1),
        ((("http", 9090, "TCP"),), 1),
    ]


def _ep(ip: str) -> dict[str, Any]:
    return {"addresses": [ip], "conditions": {"ready": True}}


def test_plan_keeps_endpoints_in_place_fills_room_and_splits_at_100() -> None:
    ports = (("", 80, "TCP"),)
    wanted = {f"10.0.0.{i}": _ep(f"10.0.0.{i}") for i in range(1, 151)}
    plan = plan_slices({ports: wanted}, [])
    assert [len(eps) for _, eps in plan.create] == [100, 50]
    full = {"metadata": {"name": "s-a"}, "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}
    full["endpoints"] = [_ep(f"10.0.0.{i}") for i in range(1, 101)]
    half = {"metadata": {"name": "s-b"}, "ports": full["ports"]}
    half["endpoints"] = [_ep(f"10.0.0.{i}") for i in range(101, 151)]
    unchanged = plan_slices({ports: wanted}, [full, half])
    assert (unchanged.create, unchanged.update, unchanged.delete) == ([], [], [])
    wanted["10.0.0.200"] = _ep("10.0.0.200")
    del wanted["10.0.0.1"]
    plan = plan_slices({ports: wanted}, [full, half])
    # the slice that lost an endpoint is rewritten and takes the new one; the other stays
    assert plan.create == [] and plan.delete == []
    ((written, eps),) = plan.update
    assert written is full and len(eps) == 100
    assert "10.0.0.200" in {e["addresses"][0] for e in eps}


def test_no_endpoints_keep_one_placeholder_and_drop_the_rest() -> None:
    stale = {"metadata": {"name": "s-x"}, "ports": [{"port": 80}], "endpoints": [_ep("10.0.0.1")]}
    plan = plan_slices({}, [stale])
    # the slice becomes the placeholder under its own name (reconciler.go finalize)
    assert (plan.create, plan.delete) == ([], [])
    assert plan.update == [(stale, [])] and plan.ports == {"s-x": ()}
    other = {"metadata": {"name": "s-y"}, "ports": [{"port": 81}], "endpoints": [_ep("10.0.0.2")]}
    plan = plan_slices({}, [stale, other])
    assert plan.delete == [other] and plan.update == [(stale, [])]
    placeholder = {"metadata": {"name": "s-p"}, "endpoints": []}
    plan = plan_slices({}, [placeholder])
    assert (plan.create, plan.update, plan.delete) == ([], [], [])


def test_endpoints_object_subsets() -> None:
    pods = [
        pod("a", "10.244.0.2"),
        pod("b", "10.244.0.3", ready=False),
        pod("c", "10.244.0.4", deleting=True),
    ]
    assert endpoints_subsets(svc(), pods) == [
        {
            "addresses": [
                {
                    "ip": "10.244.0.2",
                    "nodeName": "node-0",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "a",
                        "uid": "uid-a",
                    },
                }
            ],
            "notReadyAddresses": [
                {
                    "ip": "10.244.0.3",
                    "nodeName": "node-0",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "b",
                        "uid": "uid-b",
                    },
                }
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    ]


def _slices(registry: Registry) -> list[dict[str, Any]]:
    return registry.list(SLICES, "default", label_selector="kubernetes.io/service-name=web").items


def _ready_ips(registry: Registry) -> set[str]:
    return {
        ep["addresses"][0]
        for sl in _slices(registry)
        for ep in sl.get("endpoints") or ()
        if ep["conditions"]["ready"]
    }


def test_loop_slice_follows_pods_marked_ready_and_service_without_selector_gets_none() -> None:
    with running(nodes=2) as (registry, _):
        service = registry.create(
            SERVICES,
            "default",
            {
                "metadata": {"name": "web", "labels": {"tier": "front"}},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
        registry.create(
            SERVICES, "default", {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}
        )
        for name in ("a", "b"):
            registry.create(
                PODS,
                "default",
                {
                    "metadata": {"name": name, "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            )
        # no pod has an IP yet: one placeholder slice
        (sl,) = wait_for(lambda: _slices(registry), what="placeholder slice")
        assert sl["metadata"]["generateName"] == "web-"
        assert sl["metadata"]["labels"] == {
            "tier": "front",
            "kubernetes.io/service-name": "web",
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        }
        assert sl["metadata"]["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
        assert sl["addressType"] == "IPv4"
        a = registry.get(PODS, "default", "a")
        mark(registry, a, ip="10.244.0.2")
        wait_for(lambda: _ready_ips(registry) == {"10.244.0.2"}, what="a ready")
        b = registry.get(PODS, "default", "b")
        mark(registry, b, ready=False, ip="10.244.1.2")
        wait_for(
            lambda: len([e for s in _slices(registry) for e in s.get("endpoints") or ()]) == 2,
            what="b listed not ready",
        )
        assert _ready_ips(registry) == {"10.244.0.2"}
        (sl,) = _slices(registry)
        assert sl["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]

        # the Endpoints object is synced apart, after its own wait (ENDPOINTS_COST_FACTOR)
        def endpoints_with_b() -> Any:
            e = registry.get(ENDPOINTS, "default", "web")
            subsets = e.get("subsets") or [{}]
            return e if subsets[0].get("notReadyAddresses") else None

        ep = wait_for(endpoints_with_b, what="b in the Endpoints, not ready")
        assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.244.0.2"]
        assert [a["ip"] for a in ep["subsets"][0]["notReadyAddresses"]] == ["10.244.1.2"]
        mark(registry, registry.get(PODS, "default", "b"), ready=True)
        wait_for(lambda: _ready_ips(registry) == {"10.244.0.2", "10.244.1.2"}, what="b ready")
        registry.delete(PODS, "default", "a", grace_period=0)
        wait_for(lambda: _ready_ips(registry) == {"10.244.1.2"}, what="a gone")
        wait_for(
            lambda: (
                [
                    x["ip"]
                    for x in registry.get(ENDPOINTS, "default", "web")["subsets"][0]["addresses"]
                ]
                == ["10.244.1.2"]
            ),
            what="Endpoints follow",
        )
        manual = registry.list(
            SLICES, "default", label_selector="kubernetes.io/service-name=manual"
        ).items
        assert manual == []
        assert all(
            e["metadata"]["name"] != "manual" for e in registry.list(ENDPOINTS, "default").items
        )
        # the Service goes: its Endpoints with it, its slices through the GC
        registry.delete(SERVICES, "default", "web")
        wait_for(lambda: not _slices(registry), what="slices collected")
        wait_for(
            lambda: all(
                e["metadata"]["name"] != "web" for e in registry.list(ENDPOINTS, "default").items
            ),
            what="Endpoints deleted",
        )
