"""The horizontal-pod-autoscaler controller over a real in-memory registry with every
controller running: a Deployment's pods use twice their cpu request (usage stored in
the metrics storage as the scraper stores it), so the HPA scales 1 -> 4 (the ratio 4,
within the scale-up limit of max(2 x 1, 4)), writes its status and conditions and
records SuccessfulRescale; a pod without requests gives FailedGetResourceMetric."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.ctrl_loop import DEPLOYMENTS, NAMESPACES, PODS, deployment, pods, wait_for

from podnet.apiserver.metrics.storage import Point, Sample, Storage
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.base import rfc3339
from podnet.controllers.manager import ControllerManager

HPAS = by_kind("autoscaling", "HorizontalPodAutoscaler")
EVENTS = by_kind("", "Event")


@contextmanager
def running(storage: Storage) -> Iterator[Registry]:
    registry = Registry(MemoryStore())
    manager = ControllerManager(registry, nodes=1, metrics=storage)
    manager.start()
    try:
        assert manager.wait_synced(10.0)
        wait_for(
            lambda: any(
                n["metadata"]["name"] == "default" for n in registry.list(NAMESPACES, None).items
            ),
            what="default namespace",
        )
        yield registry
    finally:
        manager.stop(5.0)
        registry.store.close()


def make_running(registry: Registry, pod: dict[str, Any], now: float) -> None:
    """A kubelet's status: Running and Ready for a while (past the HPA's CPU
    initialization period, so its metric counts)."""
    for _ in range(20):
        current = registry.get(PODS, "default", pod["metadata"]["name"])
        fresh = copy.deepcopy(current)
        fresh["status"] = {
            "phase": "Running",
            "startTime": rfc3339(now - 1000),
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(now - 990)}
            ],
        }
        try:
            registry.update(PODS, "default", pod["metadata"]["name"], fresh, subresource="status")
            return
        except Exception as e:
            if getattr(e, "code", None) != 409:
                raise
    raise AssertionError("pod status not written")


def with_cpu(name: str, cpu: str | None) -> dict[str, Any]:
    d = deployment(name, 1, image="busybox")
    if cpu is not None:
        d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    return d


def hpa(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
            **spec,
        },
    }


def load(storage: Storage, pod_names: list[str], millicores: int, now: float) -> None:
    """Two scrapes 10 s apart: ``millicores`` per pod between them."""
    start = now - 1000
    first = [Sample("default", p, "c", Point(now - 10, start, 0, 1 << 20)) for p in pod_names]
    second = [
        Sample("default", p, "c", Point(now, start, millicores * 10_000_000, 1 << 20))
        for p in pod_names
    ]
    storage.store(first, now - 10)
    storage.store(second, now)


def events(registry: Registry, name: str) -> list[tuple[str, str]]:
    assert EVENTS is not None
    return [
        (e["reason"], e["message"])
        for e in registry.list(EVENTS, "default").items
        if e["involvedObject"]["name"] == name
    ]


def test_scales_up_from_the_measured_utilization() -> None:
    storage = Storage()
    assert HPAS is not None
    with running(storage) as registry:
        registry.create(DEPLOYMENTS, "default", with_cpu("web", "100m"))
        (pod,) = wait_for(lambda: pods(registry), what="a pod")
        now = time.time()
        make_running(registry, pod, now)
        load(storage, [pod["metadata"]["name"]], 200, now)
        registry.create(HPAS, "default", hpa("web"))
        # The controller's pod informer may not have seen the Running status yet when the
        # HPA's first sync runs ("did not receive metrics for targeted pods"): the next
        # sync comes a sync period (15 s) later, as upstream's.
        wait_for(
            lambda: registry.get(DEPLOYMENTS, "default", "web")["spec"]["replicas"] == 4,
            timeout=25.0,
            what="the scale-up to 4",
        )
        status = wait_for(
            lambda: registry.get(HPAS, "default", "web").get("status"), what="HPA status"
        )
        assert status is not None
        assert status["currentReplicas"] == 1 and status["desiredReplicas"] == 4
        assert status["currentMetrics"] == [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": 200, "averageValue": "200m"},
                },
            }
        ]
        conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
        assert conditions == {
            "AbleToScale": ("True", "SucceededRescale"),
            "ScalingActive": ("True", "ValidMetricFound"),
            "ScalingLimited": ("False", "DesiredWithinRange"),
        }
        assert (
            "SuccessfulRescale",
            "New size: 4; reason: cpu resource utilization (percentage of request) above target",
        ) in events(registry, "web")


def test_pods_without_requests() -> None:
    storage = Storage()
    assert HPAS is not None
    with running(storage) as registry:
        registry.create(DEPLOYMENTS, "default", with_cpu("noreq", None))
        (pod,) = wait_for(lambda: pods(registry), what="a pod")
        now = time.time()
        make_running(registry, pod, now)
        load(storage, [pod["metadata"]["name"]], 200, now)
        registry.create(HPAS, "default", hpa("noreq"))

        def failed() -> dict[str, Any] | None:
            st = registry.get(HPAS, "default", "noreq").get("status") or {}
            return next(
                (
                    c
                    for c in st.get("conditions") or ()
                    if c["type"] == "ScalingActive" and "missing request" in c["message"]
                ),
                None,
            )

        # as in the test above: a first sync before the controller's pod informer saw the
        # Running status says "did not receive metrics"; the next comes a period later
        cond = wait_for(failed, timeout=25.0, what="ScalingActive for the missing request")
        assert cond is not None
        name = pod["metadata"]["name"]
        assert (cond["status"], cond["reason"]) == ("False", "FailedGetResourceMetric")
        assert cond["message"] == (
            "the HPA was unable to compute the replica count: failed to get cpu utilization: "
            f"missing request for cpu in container c of Pod {name}"
        )
        assert registry.get(DEPLOYMENTS, "default", "noreq")["spec"]["replicas"] == 1
        assert (
            "FailedGetResourceMetric",
            f"failed to get cpu utilization: missing request for cpu in container c of Pod {name}",
        ) in events(registry, "noreq")
