"""The HPA's arithmetic, pure: replica_calculator.go (GetResourceReplicas,
GetRawResourceReplicas, groupPods, calculatePodRequests), metrics client's
GetResourceUtilizationRatio / GetMetricUsageRatio, and horizontal.go's normalization
(stabilizeRecommendation[WithBehaviors], convertDesiredReplicasWithRules,
convertDesiredReplicasWithBehaviorRate). Usage and requests are milli-units
(``Quantity.MilliValue``), as upstream compares them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podnet.apiserver.metrics.quantity import milli, parse
from podnet.controllers.base import parse_time

TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


class MetricError(Exception):
    """A replica count that could not be computed; the message is upstream's."""


@dataclass(frozen=True)
class PodMetric:
    value: int  # milli-units: the sum over the pod's containers
    timestamp: float
    window: float


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int | None  # percent of request (Utilization targets)
    raw: int  # average usage per pod, milli-units
    timestamp: float


def _time(obj: Any) -> float | None:
    return parse_time(obj) if isinstance(obj, str) else None


def group_pods(
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: float,
) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready, missing, ignored) pod names."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        name = meta.get("name", "")
        if meta.get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = next(
                (c for c in status.get("conditions") or () if c.get("type") == "Ready"), None
            )
            start = _time(status.get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                changed = _time(cond.get("lastTransitionTime")) or 0.0
                if start + CPU_INITIALIZATION_PERIOD > now:
                    is_unready = (
                        cond.get("status") == "False" or metric.timestamp < changed + metric.window
                    )
                else:
                    is_unready = (
                        cond.get("status") == "False" and start + INITIAL_READINESS_DELAY > changed
                    )
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(
    pods: Sequence[Mapping[str, Any]], resource: str, container: str = ""
) -> dict[str, int]:
    """calculatePodRequests: each pod's request (milli), or the error upstream gives."""
    out: dict[str, int] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or ():
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise MetricError(
                    f"missing request for {resource} in container {c.get('name')} of Pod "
                    f"{meta.get('name')}"
                )
            total += milli(req)
        out[meta.get("name", "")] = total
    return out


def utilization_ratio(
    metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (usage ratio, utilization %, average raw usage)."""
    used = requested = count = 0
    for name, m in metrics.items():
        if name not in requests:
            continue
        used += m.value
        requested += requests[name]
        count += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // count


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric],
    now: float,
    *,
    tolerance: float = TOLERANCE,
) -> Proposal:
    """GetResourceReplicas (an averageUtilization target)."""
    if not metrics:
        raise MetricError(
            f"unable to get metrics for resource {resource}: no metrics returned from "
            "resource metrics API"
        )
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    requests = pod_requests(pods, resource)
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    timestamp = max(m.timestamp for m in metrics.values())
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, utilization, raw, timestamp)
        return Proposal(math.ceil(ratio * ready), utilization, raw, timestamp)
    filled = dict(metrics)
    if missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)
            for name in missing:
                filled[name] = PodMetric(requests[name] * fallback // 100, 0.0, 0.0)
        elif ratio > 1.0:
            for name in missing:
                filled[name] = PodMetric(0, 0.0, 0.0)
    if scale_up_with_unready:
        for name in unready:
            filled[name] = PodMetric(0, 0.0, 0.0)
    new_ratio, _, _ = utilization_ratio(filled, requests, target_utilization)
    if (
        abs(1.0 - new_ratio) <= tolerance
        or (ratio < 1.0 and new_ratio > 1.0)
        or (ratio > 1.0 and new_ratio < 1.0)
    ):
        return Proposal(current, utilization, raw, timestamp)
    replicas = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(current, utilization, raw, timestamp)
    return Proposal(replicas, utilization, raw, timestamp)


def raw_resource_replicas(
    current: int,
    target_usage: int,
    resource: str,
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric],
    now: float,
    *,
    tolerance: float = TOLERANCE,
) -> Proposal:
    """GetRawResourceReplicas (an averageValue target, milli-units), through
    calcPlainMetricReplicas."""
    if not metrics:
        raise MetricError(
            f"unable to get metrics for resource {resource}: no metrics returned from "
            "resource metrics API"
        )
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    usage = sum(m.value for m in metrics.values()) // len(metrics)
    ratio = usage / target_usage
    timestamp = max(m.timestamp for m in metrics.values())
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, None, usage, timestamp)
        return Proposal(math.ceil(ratio * ready), None, usage, timestamp)
    filled = dict(metrics)
    if missing:
        for name in missing:
            filled[name] = PodMetric(target_usage if ratio < 1.0 else 0, 0.0, 0.0)
    if scale_up_with_unready:
        for name in unready:
            filled[name] = PodMetric(0, 0.0, 0.0)
    new_ratio = sum(m.value for m in filled.values()) / len(filled) / target_usage
    if (
        abs(1.0 - new_ratio) <= tolerance
        or (ratio < 1.0 and new_ratio > 1.0)
        or (ratio > 1.0 and new_ratio < 1.0)
    ):
        return Proposal(current, None, usage, timestamp)
    replicas = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(current, None, usage, timestamp)
    return Proposal(replicas, None, usage, timestamp)


def target_milli(value: Any) -> int:
    return int(parse(value) * 1000)


# --- normalization ---------------------------------------------------------------------

Condition = tuple[str, str]  # reason, message


def limits_with_rules(current: int, desired: int, low: int, high: int) -> tuple[int, Condition]:
    """convertDesiredReplicasWithRules (no behavior): min/max and the scale-up limit
    max(2 x current, 4)."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if high > scale_up_limit:
        maximum = scale_up_limit
        over = (
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        maximum = high
        over = (
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if desired < low:
        return low, (
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    if desired > maximum:
        return maximum, over
    return desired, ("DesiredWithinRange", "the desired count is within the acceptable range")


@dataclass(frozen=True)
class Recommendation:
    timestamp: float
    replicas: int


@dataclass(frozen=True)
class ScaleEvent:
    timestamp: float
    change: int  # replicas added (scale up) or removed (scale down), positive


STABILIZED = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
)
READY = ("ReadyForNewScale", "recommended size matches current size")


def stabilize(
    recs: Sequence[Recommendation],
    desired: int,
    now: float,
    window: float = DOWNSCALE_STABILIZATION,
) -> tuple[int, Condition]:
    """stabilizeRecommendation: the highest recommendation of the window (and now's)."""
    best = desired
    for r in recs:
        if r.timestamp > now - window:
            best = max(best, r.replicas)
    return best, (READY if best == desired else STABILIZED)


def stabilize_with_behavior(
    recs: Sequence[Recommendation],
    current: int,
    desired: int,
    up_window: float,
    down_window: float,
    now: float,
) -> tuple[int, Condition]:
    """stabilizeRecommendationWithBehaviors: up to the lowest recommendation of the
    scale-up window, down to the highest of the scale-down window."""
    up = down = desired
    for r in recs:
        if r.timestamp > now - up_window:
            up = min(up, r.replicas)
        if r.timestamp > now - down_window:
            down = max(down, r.replicas)
    out = current
    if out < up:
        out = up
    if out > down:
        out = down
    return out, (READY if out == desired else STABILIZED)


def _changes_in_period(events: Sequence[ScaleEvent], period: float, now: float) -> int:
    return sum(e.change for e in events if e.timestamp > now - period)


def scale_up_limit(
    current: int, events: Sequence[ScaleEvent], rules: Mapping[str, Any], now: float
) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    result = -1 if select == "Max" else 2**31 - 1
    for p in rules.get("policies") or ():
        start = current - _changes_in_period(events, float(p.get("periodSeconds", 15)), now)
        if p.get("type") == "Pods":
            limit = start + int(p.get("value", 0))
        else:
            limit = math.ceil(start * (1 + int(p.get("value", 0)) / 100))
        result = max(result, limit) if select == "Max" else min(result, limit)
    return max(result, current)


def scale_down_limit(
    current: int, events: Sequence[ScaleEvent], rules: Mapping[str, Any], now: float
) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    result = 2**31 - 1 if select == "Max" else -(2**31)
    for p in rules.get("policies") or ():
        start = current + _changes_in_period(events, float(p.get("periodSeconds", 15)), now)
        if p.get("type") == "Pods":
            limit = start - int(p.get("value", 0))
        else:
            limit = math.floor(start * (1 - int(p.get("value", 0)) / 100))
        result = min(result, limit) if select == "Max" else max(result, limit)
    return min(result, current)


def limits_with_behavior(
    current: int,
    desired: int,
    low: int,
    high: int,
    behavior: Mapping[str, Any],
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    now: float,
) -> tuple[int, Condition]:
    """convertDesiredReplicasWithBehaviorRate."""
    if desired > current:
        limit = scale_up_limit(current, up_events, behavior.get("scaleUp") or {}, now)
        maximum, reason = (
            (
                limit,
                (
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                ),
            )
            if limit < high
            else (
                high,
                (
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                ),
            )
        )
        if desired > maximum:
            return maximum, reason
    elif desired < current:
        limit = scale_down_limit(current, down_events, behavior.get("scaleDown") or {}, now)
        minimum, reason = (
            (
                limit,
                (
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                ),
            )
            if limit > low
            else (
                low,
                (
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                ),
            )
        )
        if desired < minimum:
            return minimum, reason
    return desired, ("DesiredWithinRange", "the desired count is within the acceptable range")
