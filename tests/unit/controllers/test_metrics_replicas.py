"""The HPA's arithmetic (replica_calculator.go and horizontal.go's normalization),
cases taken from upstream's replica_calculator_test.go and horizontal_test.go shapes:
the ratio and its tolerance, unready and missing pods, requests, stabilization and the
rate limits of a behavior."""

from __future__ import annotations

from typing import Any

import pytest

from podnet.controllers.autoscaling import replicas as calc
from podnet.controllers.base import rfc3339

NOW = 10_000.0


def pod(
    name: str,
    cpu: str | None = "1000m",
    *,
    phase: str = "Running",
    ready: str = "True",
    started: float = NOW - 1000,
    ready_since: float = NOW - 990,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = rfc3339(NOW)
    resources = {"requests": {"cpu": cpu}} if cpu is not None else {}
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "resources": resources}]},
        "status": {
            "phase": phase,
            "startTime": rfc3339(started),
            "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": rfc3339(ready_since)}
            ],
        },
    }


def usage(**milli: int) -> dict[str, calc.PodMetric]:
    return {k: calc.PodMetric(v, NOW - 5, 15.0) for k, v in milli.items()}


def test_scale_up_ceil_of_ratio() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    p = calc.resource_replicas(3, 30, "cpu", pods, usage(a=300, b=500, c=700), NOW)
    # 1500m of 3000m requested: 50 % against 30 %: ceil(3 * 50/30) = 5
    assert (p.replicas, p.utilization, p.raw) == (5, 50, 500)


def test_within_tolerance_keeps_current() -> None:
    pods = [pod("a"), pod("b")]
    p = calc.resource_replicas(2, 50, "cpu", pods, usage(a=540, b=540), NOW)
    assert (p.replicas, p.utilization) == (2, 54)  # 54/50 = 1.08: inside 10 %


def test_scale_down() -> None:
    pods = [pod(n) for n in "abcd"]
    p = calc.resource_replicas(4, 50, "cpu", pods, usage(a=100, b=100, c=100, d=100), NOW)
    assert p.replicas == 1  # 10 % of request against 50 %: ceil(4 * 0.2)


def test_missing_request_is_upstreams_error() -> None:
    with pytest.raises(calc.MetricError) as e:
        calc.resource_replicas(1, 50, "cpu", [pod("web-1", None)], usage(**{"web-1": 10}), NOW)
    assert str(e.value) == "missing request for cpu in container c of Pod web-1"


def test_no_metrics_and_no_pods() -> None:
    with pytest.raises(calc.MetricError, match="no metrics returned from resource metrics API"):
        calc.resource_replicas(1, 50, "cpu", [pod("a")], {}, NOW)
    with pytest.raises(calc.MetricError, match="no pods returned by selector"):
        calc.resource_replicas(1, 50, "cpu", [], usage(a=1), NOW)


def test_unready_pods_count_as_zero_on_scale_up() -> None:
    # a pod that just started and is not ready yet: its metric is not used; a scale-up
    # counts it as using nothing (GetResourceReplicas scaleUpWithUnready)
    pods = [pod("a"), pod("b"), pod("new", ready="False", started=NOW - 10, ready_since=NOW - 10)]
    p = calc.resource_replicas(3, 50, "cpu", pods, usage(a=1000, b=1000, new=1000), NOW)
    # ready: 2 pods at 100 %: ratio 2; with the unready one at 0: 2000/3000 = 66 %: 4 pods
    assert p.replicas == 4


def test_missing_pods_damp_a_scale_down() -> None:
    # a pod without a metric counts as using its request on a scale-down
    pods = [pod("a"), pod("b"), pod("missing")]
    p = calc.resource_replicas(3, 50, "cpu", pods, usage(a=100, b=100), NOW)
    # alone: 10 % -> 1 replica; with the missing pod at 100 %: 1200/3000 = 40 %: 3 pods
    # (ceil(0.8 * 3) = 3): the current count is kept
    assert p.replicas == 3


def test_ignored_pods() -> None:
    pods = [pod("a"), pod("gone", deleting=True), pod("failed", phase="Failed")]
    p = calc.resource_replicas(3, 50, "cpu", pods, usage(a=1000, gone=5000, failed=5000), NOW)
    assert p.replicas == 2  # only a counts: ratio 2 over 1 ready pod


def test_average_value_target() -> None:
    pods = [pod("a"), pod("b")]
    p = calc.raw_resource_replicas(
        2, calc.target_milli("200m"), "cpu", pods, usage(a=400, b=400), NOW
    )
    assert (p.replicas, p.raw, p.utilization) == (4, 400, None)


def test_limits_with_rules() -> None:
    assert calc.limits_with_rules(2, 10, 1, 20) == (
        4,
        (
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        ),
    )
    assert calc.limits_with_rules(2, 10, 1, 3)[0] == 3
    assert calc.limits_with_rules(2, 10, 1, 3)[1][0] == "TooManyReplicas"
    assert calc.limits_with_rules(5, 0, 2, 10)[1][0] == "TooFewReplicas"
    assert calc.limits_with_rules(5, 4, 2, 10) == (
        4,
        ("DesiredWithinRange", "the desired count is within the acceptable range"),
    )


def test_stabilization_keeps_the_highest_recent_recommendation() -> None:
    recs = [calc.Recommendation(NOW - 200, 5), calc.Recommendation(NOW - 400, 9)]
    assert calc.stabilize(recs, 2, NOW) == (5, calc.STABILIZED)
    assert calc.stabilize(recs, 6, NOW) == (6, calc.READY)


def test_stabilization_with_behavior_windows() -> None:
    recs = [calc.Recommendation(NOW - 3, 5), calc.Recommendation(NOW - 20, 8)]
    # scale-down window 5 s: only the recommendation 3 s ago (5) holds it up
    assert calc.stabilize_with_behavior(recs, 8, 1, 0, 5, NOW)[0] == 5
    # a scale-up window of 10 s: up to the lowest recent recommendation
    assert calc.stabilize_with_behavior(recs, 1, 9, 10, 0, NOW)[0] == 5


def test_rate_limits_of_a_behavior() -> None:
    up = {
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert calc.scale_up_limit(10, [], up, NOW) == 20
    assert calc.scale_up_limit(1, [], up, NOW) == 5
    # 3 pods added 5 s ago count against the period
    assert calc.scale_up_limit(4, [calc.ScaleEvent(NOW - 5, 3)], up, NOW) == 5
    down = {
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
    }
    assert calc.scale_down_limit(10, [], down, NOW) == 5
    assert calc.scale_down_limit(10, [], {"selectPolicy": "Disabled"}, NOW) == 10
    behavior = {"scaleUp": up, "scaleDown": down}
    assert calc.limits_with_behavior(10, 1, 1, 20, behavior, [], [], NOW) == (
        5,
        (
            "ScaleDownLimit",
            "the desired replica count is decreasing faster than the maximum scale rate",
        ),
    )
    assert calc.limits_with_behavior(2, 50, 1, 5, behavior, [], [], NOW)[0] == 5
