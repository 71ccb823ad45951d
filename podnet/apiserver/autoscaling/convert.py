"""autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler, as
pkg/apis/autoscaling/v1/conversion.go converts them through the internal type.

v1 has one target, ``targetCPUUtilizationPercentage``; whatever else a v2 object holds
rides in annotations, in v1's own shapes, so that a v1 client's read-modify-write keeps
it: ``autoscaling.alpha.kubernetes.io/metrics`` (the other metrics, v1 MetricSpec),
``.../behavior`` (JSON of the behavior), ``.../current-metrics`` (v1 MetricStatus) and
``.../conditions``. Converting back reads and removes them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from podnet.apiserver.store.base import Obj

V1, V2 = "autoscaling/v1", "autoscaling/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"


def _is_cpu_utilization(m: Obj) -> bool:
    r = m.get("resource") or {}
    target = r.get("target") or {}
    return (
        m.get("type") == "Resource"
        and r.get("name") == "cpu"
        and target.get("type") == "Utilization"
        and target.get("averageUtilization") is not None
    )


# --- metric specs and statuses between the v2 and the v1 (v2beta1-like) shapes ---------


def _spec_to_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type")}
    kind = m.get("type")
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        src = m.get(key) or {}
        target = src.get("target") or {}
        r: Obj = {"name": src.get("name")}
        if kind == "ContainerResource":
            r["container"] = src.get("container")
        if target.get("averageUtilization") is not None:
            r["targetAverageUtilization"] = target["averageUtilization"]
        if target.get("averageValue") is not None:
            r["targetAverageValue"] = target["averageValue"]
        out[key] = r
    elif kind == "Pods":
        src = m.get("pods") or {}
        metric = src.get("metric") or {}
        p: Obj = {"metricName": metric.get("name")}
        if metric.get("selector") is not None:
            p["selector"] = metric["selector"]
        p["targetAverageValue"] = (src.get("target") or {}).get("averageValue")
        out["pods"] = p
    elif kind == "Object":
        src = m.get("object") or {}
        metric, target = src.get("metric") or {}, src.get("target") or {}
        o: Obj = {"target": src.get("describedObject"), "metricName": metric.get("name")}
        if metric.get("selector") is not None:
            o["selector"] = metric["selector"]
        if target.get("value") is not None:
            o["targetValue"] = target["value"]
        if target.get("averageValue") is not None:
            o["averageValue"] = target["averageValue"]
        out["object"] = o
    elif kind == "External":
        src = m.get("external") or {}
        metric, target = src.get("metric") or {}, src.get("target") or {}
        e: Obj = {"metricName": metric.get("name")}
        if metric.get("selector") is not None:
            e["metricSelector"] = metric["selector"]
        if target.get("value") is not None:
            e["targetValue"] = target["value"]
        if target.get("averageValue") is not None:
            e["targetAverageValue"] = target["averageValue"]
        out["external"] = e
    return out


def _spec_to_v2(m: Obj) -> Obj:
    kind = m.get("type")
    out: Obj = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        src = m.get(key) or {}
        target: Obj = {}
        if src.get("targetAverageUtilization") is not None:
            target = {"type": "Utilization", "averageUtilization": src["targetAverageUtilization"]}
        elif src.get("targetAverageValue") is not None:
            target = {"type": "AverageValue", "averageValue": src["targetAverageValue"]}
        r: Obj = {"name": src.get("name"), "target": target}
        if kind == "ContainerResource":
            r["container"] = src.get("container")
        out[key] = r
    elif kind == "Pods":
        src = m.get("pods") or {}
        metric: Obj = {"name": src.get("metricName")}
        if src.get("selector") is not None:
            metric["selector"] = src["selector"]
        out["pods"] = {
            "metric": metric,
            "target": {"type": "AverageValue", "averageValue": src.get("targetAverageValue")},
        }
    elif kind == "Object":
        src = m.get("object") or {}
        metric = {"name": src.get("metricName")}
        if src.get("selector") is not None:
            metric["selector"] = src["selector"]
        target = (
            {"type": "AverageValue", "averageValue": src["averageValue"]}
            if src.get("averageValue") is not None
            else {"type": "Value", "value": src.get("targetValue")}
        )
        out["object"] = {
            "describedObject": src.get("target"),
            "metric": metric,
            "target": target,
        }
    elif kind == "External":
        src = m.get("external") or {}
        metric = {"name": src.get("metricName")}
        if src.get("metricSelector") is not None:
            metric["selector"] = src["metricSelector"]
        target = (
            {"type": "AverageValue", "averageValue": src["targetAverageValue"]}
            if src.get("targetAverageValue") is not None
            else {"type": "Value", "value": src.get("targetValue")}
        )
        out["external"] = {"metric": metric, "target": target}
    return out


def _status_to_v1(m: Obj) -> Obj:
    kind = m.get("type")
    out: Obj = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        src = m.get(key) or {}
        cur = src.get("current") or {}
        r: Obj = {"name": src.get("name")}
        if kind == "ContainerResource":
            r["container"] = src.get("container")
        if cur.get("averageUtilization") is not None:
            r["currentAverageUtilization"] = cur["averageUtilization"]
        r["currentAverageValue"] = cur.get("averageValue")
        out[key] = r
    else:  # the other kinds' statuses keep the v2 shape under their key
        key = kind.lower() if isinstance(kind, str) else ""
        if key in m:
            out[key] = m[key]
    return out


def _status_to_v2(m: Obj) -> Obj:
    kind = m.get("type")
    out: Obj = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        src = m.get(key) or {}
        cur: Obj = {"averageValue": src.get("currentAverageValue")}
        if src.get("currentAverageUtilization") is not None:
            cur["averageUtilization"] = src["currentAverageUtilization"]
        r: Obj = {"name": src.get("name"), "current": cur}
        if kind == "ContainerResource":
            r["container"] = src.get("container")
        out[key] = r
    else:
        key = kind.lower() if isinstance(kind, str) else ""
        if key in m:
            out[key] = m[key]
    return out


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def to_v1(obj: Obj) -> Obj:
    """The autoscaling/v1 view of a stored (v2) object."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = V1
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", None) or []
    behavior = spec.pop("behavior", None)
    others: list[Obj] = []
    for m in metrics:
        if "targetCPUUtilizationPercentage" not in spec and _is_cpu_utilization(m):
            spec["targetCPUUtilizationPercentage"] = m["resource"]["target"]["averageUtilization"]
        else:
            others.append(_spec_to_v1(m))
    if others:
        annotations[METRICS] = _dump(others)
    if behavior is not None:
        annotations[BEHAVIOR] = _dump(behavior)
    status = out.get("status")
    if status is not None:
        current = status.pop("currentMetrics", None) or []
        conditions = status.pop("conditions", None)
        rest: list[Obj] = []
        for m in current:
            cur = ((m.get("resource") or {}).get("current")) or {}
            if (
                m.get("type") == "Resource"
                and (m.get("resource") or {}).get("name") == "cpu"
                and cur.get("averageUtilization") is not None
                and "currentCPUUtilizationPercentage" not in status
            ):
                status["currentCPUUtilizationPercentage"] = cur["averageUtilization"]
            else:
                rest.append(_status_to_v1(m))
        if rest:
            annotations[CURRENT] = _dump(rest)
        if conditions:
            annotations[CONDITIONS] = _dump(conditions)
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
    if annotations:
        meta["annotations"] = annotations
    return out


def to_v2(obj: Obj) -> Obj:
    """A v1 object (a request body) as the v2 object to store: the annotations read
    back into their fields and removed."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = V2
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics: list[Obj] = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
        )
    raw = annotations.pop(METRICS, None)
    if raw:
        metrics.extend(_spec_to_v2(m) for m in _load(raw))
    if metrics:
        spec["metrics"] = metrics
    raw = annotations.pop(BEHAVIOR, None)
    if raw:
        spec["behavior"] = _load(raw)
    status = out.get("status")
    current_raw = annotations.pop(CURRENT, None)
    conditions_raw = annotations.pop(CONDITIONS, None)
    if status is not None:
        current: list[Obj] = []
        cpu = status.pop("currentCPUUtilizationPercentage", None)
        if cpu is not None:
            current.append(
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cpu}},
                }
            )
        if current_raw:
            current.extend(_status_to_v2(m) for m in _load(current_raw))
        if current:
            status["currentMetrics"] = current
        if conditions_raw:
            status["conditions"] = _load(conditions_raw)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _load(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return []
