"""HorizontalPodAutoscaler defaults and validation, on the stored (v2) object.

Defaults: pkg/apis/autoscaling/v2/defaults.go (minReplicas 1; no metrics means cpu at
80 % utilization; a behavior given is filled from GenerateHPAScaleUpRules /
GenerateHPAScaleDownRules). Validation: pkg/apis/autoscaling/validation/validation.go
(ValidateHorizontalPodAutoscalerSpec, validateMetrics, validateBehavior) with its
messages; the HPAScaleToZero gate off, as on a default cluster.
"""

from __future__ import annotations

from typing import Any

from podnet.apiserver.store.base import Obj

KIND = "HorizontalPodAutoscaler"
GROUP = "autoscaling"
DEFAULT_CPU_UTILIZATION = 80  # pkg/apis/autoscaling/types.go DefaultCPUUtilization
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
Causes = list[tuple[str, str, str]]


def scale_up_rules(rules: Obj | None) -> Obj:
    """GenerateHPAScaleUpRules: no stabilization, the larger of 4 pods or 100 % per 15 s."""
    rules = dict(rules or {})
    rules.setdefault("stabilizationWindowSeconds", 0)
    rules.setdefault("selectPolicy", "Max")
    if not rules.get("policies"):
        rules["policies"] = [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]
    return rules


def scale_down_rules(rules: Obj | None) -> Obj:
    """GenerateHPAScaleDownRules: 300 s stabilization, 100 % per 15 s."""
    rules = dict(rules or {})
    rules.setdefault("stabilizationWindowSeconds", 300)
    rules.setdefault("selectPolicy", "Max")
    if not rules.get("policies"):
        rules["policies"] = [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    return rules


def apply_defaults(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": DEFAULT_CPU_UTILIZATION,
                    },
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = scale_up_rules(behavior.get("scaleUp"))
        behavior["scaleDown"] = scale_down_rules(behavior.get("scaleDown"))


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def causes(obj: Obj) -> Causes:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    out: Causes = []
    lo, hi = _int(spec.get("minReplicas")), _int(spec.get("maxReplicas"))
    if lo is not None and lo < 1:
        out.append(
            (
                "FieldValueInvalid",
                "spec.minReplicas",
                f"Invalid value: {lo}: must be greater than or equal to 1",
            )
        )
    if hi is None or hi < 1:
        out.append(
            (
                "FieldValueInvalid",
                "spec.maxReplicas",
                f"Invalid value: {hi if hi is not None else 0}: must be greater than 0",
            )
        )
    if lo is not None and hi is not None and lo > hi:
        out.append(
            (
                "FieldValueInvalid",
                "spec.maxReplicas",
                f"Invalid value: {hi}: must be greater than or equal to `minReplicas`",
            )
        )
    ref = spec.get("scaleTargetRef") if isinstance(spec.get("scaleTargetRef"), dict) else {}
    assert isinstance(ref, dict)
    for key in ("kind", "name"):
        if not ref.get(key):
            out.append(("FieldValueRequired", f"spec.scaleTargetRef.{key}", "Required value"))
        elif "/" in str(ref[key]) or str(ref[key]) in (".", ".."):
            out.append(
                (
                    "FieldValueInvalid",
                    f"spec.scaleTargetRef.{key}",
                    f"Invalid value: {ref[key]!r}: may not contain '/'",
                )
            )
    for i, m in enumerate(spec.get("metrics") or []):
        out += _metric_causes(f"spec.metrics[{i}]", m)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key in ("scaleUp", "scaleDown"):
            out += _rules_causes(f"spec.behavior.{key}", behavior.get(key) or {})
    return out


def _metric_causes(path: str, m: Any) -> Causes:
    if not isinstance(m, dict):
        return [
            (
                "FieldValueRequired",
                f"{path}.type",
                "Required value: must specify a metric source type",
            )
        ]
    kind = m.get("type")
    if kind not in ("Resource", "ContainerResource", "Pods", "Object", "External"):
        return [
            (
                "FieldValueNotSupported",
                f"{path}.type",
                f'Unsupported value: "{kind}": supported values: "ContainerResource", '
                '"External", "Object", "Pods", "Resource"',
            )
        ]
    if kind not in ("Resource", "ContainerResource"):
        return []
    key = "resource" if kind == "Resource" else "containerResource"
    src = m.get(key)
    if not isinstance(src, dict):
        return [
            (
                "FieldValueRequired",
                f"{path}.{key}",
                "Required value: must populate information for the given metric source",
            )
        ]
    out: Causes = []
    if not src.get("name"):
        out.append(
            (
                "FieldValueRequired",
                f"{path}.{key}.name",
                "Required value: must specify a resource name",
            )
        )
    target = src.get("target") if isinstance(src.get("target"), dict) else {}
    assert isinstance(target, dict)
    t = target.get("type")
    if t not in ("Utilization", "AverageValue"):
        out.append(
            (
                "FieldValueRequired",
                f"{path}.{key}.target.type",
                "Required value: must be either Utilization or AverageValue",
            )
        )
    util = target.get("averageUtilization")
    util_int = _int(util)
    if t == "Utilization" and (util_int is None or util_int <= 0):
        out.append(
            (
                "FieldValueRequired" if util is None else "FieldValueInvalid",
                f"{path}.{key}.target.averageUtilization",
                "Required value: must set either a target raw value or a target utilization"
                if util is None
                else f"Invalid value: {util}: must be greater than 0",
            )
        )
    if t == "AverageValue" and target.get("averageValue") is None:
        out.append(
            (
                "FieldValueRequired",
                f"{path}.{key}.target.averageValue",
                "Required value: must set either a target raw value or a target utilization",
            )
        )
    return out


def _rules_causes(path: str, rules: Obj) -> Causes:
    out: Causes = []
    window = _int(rules.get("stabilizationWindowSeconds"))
    if window is not None and not 0 <= window <= MAX_STABILIZATION_WINDOW_SECONDS:
        message = (
            "must be greater than or equal to zero"
            if window < 0
            else f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"
        )
        out.append(
            (
                "FieldValueInvalid",
                f"{path}.stabilizationWindowSeconds",
                f"Invalid value: {window}: {message}",
            )
        )
    select = rules.get("selectPolicy")
    if select is not None and select not in ("Max", "Min", "Disabled"):
        out.append(
            (
                "FieldValueNotSupported",
                f"{path}.selectPolicy",
                f'Unsupported value: "{select}": supported values: "Disabled", "Max", "Min"',
            )
        )
    for i, p in enumerate(rules.get("policies") or []):
        where = f"{path}.policies[{i}]"
        if not isinstance(p, dict):
            continue
        if p.get("type") not in ("Pods", "Percent"):
            out.append(
                (
                    "FieldValueNotSupported",
                    f"{where}.type",
                    f'Unsupported value: "{p.get("type")}": supported values: "Percent", "Pods"',
                )
            )
        value, period = _int(p.get("value")), _int(p.get("periodSeconds"))
        if value is None or value <= 0:
            out.append(
                (
                    "FieldValueInvalid",
                    f"{where}.value",
                    f"Invalid value: {value}: must be greater than zero",
                )
            )
        if period is None or not 0 < period <= MAX_PERIOD_SECONDS:
            out.append(
                (
                    "FieldValueInvalid",
                    f"{where}.periodSeconds",
                    f"Invalid value: {period}: must be greater than zero and less than or equal "
                    f"to {MAX_PERIOD_SECONDS}",
                )
            )
    return out
