"""The HorizontalPodAutoscaler controller (pkg/controller/podautoscaler/horizontal.go
reconcileAutoscaler): every sync period (15 s, --horizontal-pod-autoscaler-sync-period)
each HPA reads its target's scale subresource, the Resource metrics of the pods the
scale's selector picks (from the metrics.k8s.io storage, as upstream reads the
resource metrics API), proposes a replica count per metric (the largest wins),
normalizes it (stabilization, min/max, rate limits; :mod:`.replicas`) and writes the
scale and the HPA's status: currentMetrics, currentReplicas, desiredReplicas,
lastScaleTime and the conditions AbleToScale, ScalingActive, ScalingLimited; with the
events SuccessfulRescale, FailedGetResourceMetric, FailedComputeMetricsReplicas,
FailedGetScale and FailedRescale.

Pods, Object and External metrics need a custom or external metrics API, which podnet
does not serve: they are reported as upstream reports a metrics API that is missing.
"""

from __future__ import annotations

import copy
from typing import Any

from podnet.apiserver import resources
from podnet.apiserver.errors import ApiError
from podnet.apiserver.metrics.quantity import binary_bytes, nanocores
from podnet.apiserver.metrics.storage import Storage
from podnet.apiserver.resources import Resource
from podnet.apiserver.selectors import selector
from podnet.apiserver.store.base import Obj
from podnet.controllers.autoscaling import replicas as calc
from podnet.controllers.base import (
    Controller,
    by_namespace,
    deleting,
    name,
    namespace,
    record_event,
    rfc3339,
)
from podnet.controllers.informer import obj_key
from podnet.controllers.replicaset import PODS

HPAS: Resource = resources.by_kind("autoscaling", "HorizontalPodAutoscaler")  # type: ignore[assignment]
COMPONENT = "horizontal-pod-autoscaler"
SYNC_PERIOD = 15.0
CONDITION_ORDER = ("AbleToScale", "ScalingActive", "ScalingLimited")


def _set(
    conditions: list[Obj], type_: str, status: str, reason: str, message: str, now: str
) -> None:
    """horizontal.go setCondition: in place, the transition time kept while the status
    stays."""
    for c in conditions:
        if c.get("type") == type_:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": type_,
            "status": status,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


class HorizontalController(Controller):
    name = "horizontal-pod-autoscaler"

    def __init__(
        self, registry: Any, informers: Any, *, metrics: Storage | None, **kw: Any
    ) -> None:
        super().__init__(registry, informers, **kw)
        self.metrics = metrics
        self.recommendations: dict[str, list[calc.Recommendation]] = {}
        self.up_events: dict[str, list[calc.ScaleEvent]] = {}
        self.down_events: dict[str, list[calc.ScaleEvent]] = {}

    def setup(self) -> None:
        self.hpas = self.informers.get(HPAS)
        self.pods = self.informers.get(PODS)
        self.pods.add_index("namespace", by_namespace)
        self.hpas.add_handler(self._on_hpa)

    def _on_hpa(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        if type_ == "DELETED":
            key = obj_key(new)
            for d in (self.recommendations, self.up_events, self.down_events):
                d.pop(key, None)
            return
        # a status write of our own needs no new sync; a spec change does
        if old is None or old.get("spec") != new.get("spec"):
            self.queue.add(obj_key(new))

    def sync(self, key: str) -> None:
        hpa = self.hpas.get(key)
        if hpa is None or deleting(hpa):
            return
        try:
            self.reconcile(key, hpa)
        finally:
            self.queue.add_after(key, SYNC_PERIOD)

    # --- metrics ----------------------------------------------------------------------

    def _pod_metrics(self, ns: str, pods: list[Obj], resource: str) -> dict[str, calc.PodMetric]:
        """metrics client GetResourceMetric: per pod, the sum over its containers."""
        out: dict[str, calc.PodMetric] = {}
        if self.metrics is None:
            return out
        for pod in pods:
            usage = self.metrics.pod(ns, name(pod))
            if usage is None:
                continue
            value = usage.nanocores // 1_000_000 if resource == "cpu" else usage.memory * 1000
            out[name(pod)] = calc.PodMetric(value, usage.timestamp, usage.window)
        return out

    def _resource_metric(
        self, spec: Obj, current: int, ns: str, pods: list[Obj], now: float
    ) -> tuple[int, str, Obj]:
        """computeStatusForResourceMetric: (proposal, metric name, status entry)."""
        src = spec.get("resource") or {}
        resource = str(src.get("name", ""))
        target = src.get("target") or {}
        metrics = self._pod_metrics(ns, pods, resource)
        if target.get("averageValue") is not None:
            try:
                p = calc.raw_resource_replicas(
                    current, calc.target_milli(target["averageValue"]), resource, pods, metrics, now
                )
            except calc.MetricError as e:
                raise calc.MetricError(f"failed to get {resource} usage: {e}") from None
            value: Obj = {"averageValue": _quantity(resource, p.raw)}
            return p.replicas, f"{resource} resource", _resource_status(resource, value)
        if target.get("averageUtilization") is None:
            raise calc.MetricError(
                "invalid resource metric source: neither an average utilization target nor "
                "an average value (usage) target was set"
            )
        try:
            p = calc.resource_replicas(
                current, int(target["averageUtilization"]), resource, pods, metrics, now
            )
        except calc.MetricError as e:
            raise calc.MetricError(f"failed to get {resource} utilization: {e}") from None
        status: Obj = {"averageUtilization": p.utilization}
        status["averageValue"] = _quantity(resource, p.raw)
        return (
            p.replicas,
            f"{resource} resource utilization (percentage of request)",
            _resource_status(resource, status),
        )

    def compute(
        self, hpa: Obj, current: int, ns: str, pods: list[Obj], conditions: list[Obj], now: float
    ) -> tuple[int, str, list[Obj], str]:
        """computeReplicasForMetrics: (replicas or -1, metric, statuses, error)."""
        specs = (hpa.get("spec") or {}).get("metrics") or []
        stamp = rfc3339(now)
        best, metric = 0, ""
        statuses: list[Obj] = []
        invalid = 0
        failure: tuple[str, str, str] | None = None
        for spec in specs:
            kind = spec.get("type")
            try:
                if kind != "Resource":
                    raise calc.MetricError(
                        f"unable to get {str(kind).lower()} metric: the server could not find "
                        "the requested resource"
                    )
                proposal, name_, status = self._resource_metric(spec, current, ns, pods, now)
            except calc.MetricError as e:
                invalid += 1
                statuses.append({"type": ""})
                reason = (
                    "FailedGetResourceMetric" if kind == "Resource" else f"FailedGet{kind}Metric"
                )
                record_event(self.registry, hpa, "Warning", reason, str(e), COMPONENT)
                if failure is None:
                    failure = (
                        reason,
                        f"the HPA was unable to compute the replica count: {e}",
                        str(e),
                    )
                continue
            statuses.append(status)
            if not metric or proposal > best:
                best, metric = proposal, name_
        if failure is not None and (invalid >= len(specs) or best < current):
            _set(conditions, "ScalingActive", "False", failure[0], failure[1], stamp)
            error = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: "
            return -1, "", statuses, error + failure[2]
        _set(
            conditions,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {metric}",
            stamp,
        )
        return best, metric, statuses, ""

    # --- the reconcile ----------------------------------------------------------------

    def reconcile(self, key: str, hpa: Obj) -> None:
        now = self.clock()
        stamp = rfc3339(now)
        ns = namespace(hpa)
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        old_status = hpa.get("status") or {}
        status: Obj = copy.deepcopy(old_status)
        conditions: list[Obj] = status.get("conditions") or []
        conditions.sort(
            key=lambda c: (
                CONDITION_ORDER.index(c["type"]) if c.get("type") in CONDITION_ORDER else 9
            )
        )
        reference = f"{ref.get('kind')}/{ns}/{ref.get('name')}"
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        target = resources.by_api_version(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        try:
            if target is None or "scale" not in target.subresources:
                raise ApiError(
                    404,
                    "NotFound",
                    f'no matches for kind "{ref.get("kind")}" in group "{group}"',
                )
            scale = self.registry.get(target, ns, str(ref.get("name", "")), subresource="scale")
        except ApiError as e:
            message = f"the HPA controller was unable to get the target's current scale: {e}"
            _set(conditions, "AbleToScale", "False", "FailedGetScale", message, stamp)
            record_event(self.registry, hpa, "Warning", "FailedGetScale", str(e), COMPONENT)
            status["conditions"] = conditions
            self._write(hpa, status)
            return
        _set(
            conditions,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
            stamp,
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        low = int(spec.get("minReplicas") or 1)
        high = int(spec.get("maxReplicas") or 1)
        statuses: list[Obj] = status.get("currentMetrics") or []
        reason = ""
        if current == 0 and low != 0:
            desired = 0
            _set(
                conditions,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
                stamp,
            )
        elif current > high:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", high
        elif current < low:
            reason, desired = "Current number of replicas below Spec.MinReplicas", low
        else:
            sel = str((scale.get("status") or {}).get("selector") or "")
            matcher = selector("Pod", True, sel, "")
            pods = (
                [p for p in self.pods.by_index("namespace", ns) if matcher.matches(p)]
                if sel
                else []
            )
            proposal, metric, statuses, error = self.compute(
                hpa, current, ns, pods, conditions, now
            )
            if proposal == -1:
                record_event(
                    self.registry,
                    hpa,
                    "Warning",
                    "FailedComputeMetricsReplicas",
                    "failed to compute desired number of replicas based on listed metrics for "
                    f"{reference}: {error}",
                    COMPONENT,
                )
                status.update(currentReplicas=current, currentMetrics=statuses)
                status["conditions"] = conditions
                self._write(hpa, status)
                return
            desired = self._normalize(key, hpa, current, proposal, low, high, conditions, now)
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
        if desired != current:
            try:
                fresh = copy.deepcopy(scale)
                fresh["spec"] = {"replicas": desired}
                assert target is not None
                self.registry.update(
                    target, ns, str(ref.get("name", "")), fresh, subresource="scale"
                )
            except ApiError as e:
                record_event(
                    self.registry,
                    hpa,
                    "Warning",
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {e}",
                    COMPONENT,
                )
                _set(
                    conditions,
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {e}",
                    stamp,
                )
                status["conditions"] = conditions
                self._write(hpa, status)
                return
            _set(
                conditions,
                "AbleToScale",
                "True",
                "SucceededRescale",
                "the HPA controller was able to update the target scale to " + str(desired),
                stamp,
            )
            self._record_event(key, current, desired, now)
            record_event(
                self.registry,
                hpa,
                "Normal",
                "SuccessfulRescale",
                f"New size: {desired}; reason: {reason}",
                COMPONENT,
            )
            status["lastScaleTime"] = stamp
        status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        status["currentMetrics"] = statuses
        if not statuses:
            status.pop("currentMetrics")
        status["conditions"] = conditions
        generation = (hpa.get("metadata") or {}).get("generation")
        if generation is not None:
            status["observedGeneration"] = generation
        self._write(hpa, status)

    def _normalize(
        self,
        key: str,
        hpa: Obj,
        current: int,
        proposal: int,
        low: int,
        high: int,
        conditions: list[Obj],
        now: float,
    ) -> int:
        """normalizeDesiredReplicas / normalizeDesiredReplicasWithBehaviors."""
        stamp = rfc3339(now)
        behavior = (hpa.get("spec") or {}).get("behavior")
        recs = self.recommendations.setdefault(key, [])
        if behavior is None:
            stabilized, (reason, message) = calc.stabilize(recs, proposal, now)
            self._remember(recs, proposal, now, calc.DOWNSCALE_STABILIZATION)
            _set(conditions, "AbleToScale", "True", reason, message, stamp)
            desired, (why, text) = calc.limits_with_rules(current, stabilized, low, high)
        else:
            up = float((behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds") or 0)
            down_rules = behavior.get("scaleDown") or {}
            down = float(down_rules.get("stabilizationWindowSeconds", calc.DOWNSCALE_STABILIZATION))
            stabilized, (reason, message) = calc.stabilize_with_behavior(
                recs, current, proposal, up, down, now
            )
            self._remember(recs, proposal, now, max(up, down))
            _set(conditions, "AbleToScale", "True", reason, message, stamp)
            desired, (why, text) = calc.limits_with_behavior(
                current,
                stabilized,
                low,
                high,
                behavior,
                self.up_events.get(key, []),
                self.down_events.get(key, []),
                now,
            )
        limited = "False" if desired == stabilized else "True"
        _set(conditions, "ScalingLimited", limited, why, text, stamp)
        return desired

    @staticmethod
    def _remember(recs: list[calc.Recommendation], proposal: int, now: float, keep: float) -> None:
        recs[:] = [r for r in recs if r.timestamp > now - max(keep, calc.DOWNSCALE_STABILIZATION)]
        recs.append(calc.Recommendation(now, proposal))

    def _record_event(self, key: str, current: int, desired: int, now: float) -> None:
        """storeScaleEvent: the rate limits' history (kept 30 minutes, the longest period)."""
        events = self.up_events if desired > current else self.down_events
        kept = [e for e in events.get(key, []) if e.timestamp > now - 1800]
        kept.append(calc.ScaleEvent(now, abs(desired - current)))
        events[key] = kept

    def _write(self, hpa: Obj, status: Obj) -> None:
        # int32 fields of the Go type: always on the wire, 0 until known
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
        if status == (hpa.get("status") or {}):
            return
        fresh = copy.copy(hpa)
        fresh["status"] = status
        try:
            self.registry.update(HPAS, namespace(hpa), name(hpa), fresh, subresource="status")
        except ApiError as e:
            if e.code not in (404, 409):
                raise


def _quantity(resource: str, milli_value: int) -> str:
    """resource.NewMilliQuantity(v, DecimalSI).String() for cpu; memory in bytes."""
    if resource == "cpu":
        return nanocores(milli_value * 1_000_000)
    return binary_bytes(milli_value // 1000)


def _resource_status(resource: str, current: Obj) -> Obj:
    return {"type": "Resource", "resource": {"name": resource, "current": current}}
