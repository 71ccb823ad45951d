"""Validation of CronJob, Ingress, IngressClass, PodDisruptionBudget and PriorityClass
beyond their OpenAPI schemas, and the admission plugins that act on them: Priority
(plugin/pkg/admission/priority/admission.go) and DefaultIngressClass
(plugin/pkg/admission/network/defaultingressclass/admission.go).

Causes carry the field paths and wording of ``pkg/apis/{batch,networking,policy,
scheduling}/validation/validation.go`` so kubectl prints what a real cluster prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podnet.apiserver.admission import cron
from podnet.apiserver.errors import ApiError, invalid
from podnet.apiserver.resources import Resource, by_kind

Obj = dict[str, Any]
Cause = tuple[str, str, str]

PRIORITY_CLASSES: Resource = by_kind("scheduling.k8s.io", "PriorityClass")  # type: ignore[assignment]
INGRESS_CLASSES: Resource = by_kind("networking.k8s.io", "IngressClass")  # type: ignore[assignment]
# pkg/apis/scheduling/types.go
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": SYSTEM_CRITICAL_PRIORITY + 1000,
    "system-cluster-critical": SYSTEM_CRITICAL_PRIORITY,
}
DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"


def forbidden(res: Resource, name: str, message: str) -> ApiError:
    """admission.NewForbidden: 403 ``<resource> "<name>" is forbidden: <message>``."""
    qualified = f"{res.plural}.{res.group}" if res.group else res.plural
    details: Obj = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    return ApiError(
        403, "Forbidden", f'{qualified} "{name}" is forbidden: {message}', details=details
    )


def _q(value: Any) -> str:
    """How field.Invalid quotes a value (strings quoted, numbers bare)."""
    return f'"{value}"' if isinstance(value, str) else str(value)


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


# -- CronJob (pkg/apis/batch/validation/validation.go ValidateCronJobSpec) ------------------


# DNS1035LabelMaxLength - 11: room for the Job's "-<minutes>" suffix (ValidateCronJobCreate)
CRONJOB_NAME_MAX = 52


def cronjob_causes(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    name = str(_get(obj, "metadata", "name") or "")
    if len(name) > CRONJOB_NAME_MAX:
        out.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f"Invalid value: {_q(name)}: must be no more than {CRONJOB_NAME_MAX} characters",
            )
        )
    schedule = spec.get("schedule")
    if not schedule:
        out.append(("FieldValueRequired", "spec.schedule", "Required value"))
    elif isinstance(schedule, str):
        # validateScheduleFormat: TZ in the schedule is refused (use spec.timeZone)
        if "TZ" in schedule:
            out.append(
                (
                    "FieldValueInvalid",
                    "spec.schedule",
                    f"Invalid value: {_q(schedule)}: cannot use TZ or CRON_TZ in schedule, "
                    "use timeZone field instead",
                )
            )
        else:
            try:
                cron.parse(schedule)
            except cron.CronError as e:
                out.append(
                    ("FieldValueInvalid", "spec.schedule", f"Invalid value: {_q(schedule)}: {e}")
                )
    tz = spec.get("timeZone")
    if tz is not None:
        # validateTimeZone
        if tz == "":
            why = "timeZone must be nil or non-empty string"
        elif tz.lower() == "local":
            why = "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        else:
            try:
                cron.zone(tz)
                why = ""
            except cron.CronError as e:
                why = str(e)
        if why:
            out.append(("FieldValueInvalid", "spec.timeZone", f"Invalid value: {_q(tz)}: {why}"))
    sds = spec.get("startingDeadlineSeconds")
    if isinstance(sds, int) and sds < 0:
        out.append(
            (
                "FieldValueInvalid",
                "spec.startingDeadlineSeconds",
                f"Invalid value: {sds}: must be greater than or equal to 0",
            )
        )
    policy = spec.get("concurrencyPolicy")
    if policy not in (None, "Allow", "Forbid", "Replace"):
        out.append(
            (
                "FieldValueNotSupported",
                "spec.concurrencyPolicy",
                f'Unsupported value: {_q(policy)}: supported values: "Allow", "Forbid", "Replace"',
            )
        )
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        v = spec.get(key)
        if isinstance(v, int) and v < 0:
            out.append(
                (
                    "FieldValueInvalid",
                    f"spec.{key}",
                    f"Invalid value: {v}: must be greater than or equal to 0",
                )
            )
    restart = _get(spec, "jobTemplate", "spec", "template", "spec", "restartPolicy")
    if restart not in ("OnFailure", "Never"):
        # ValidatePodTemplateSpecForJob: a Job's pods never restart Always
        out.append(
            (
                "FieldValueRequired" if restart is None else "FieldValueNotSupported",
                "spec.jobTemplate.spec.template.spec.restartPolicy",
                "Required value"
                if restart is None
                else f'Unsupported value: {_q(restart)}: supported values: "OnFailure", "Never"',
            )
        )
    return out


# -- PodDisruptionBudget (pkg/apis/policy/validation ValidatePodDisruptionBudgetSpec) ---


def _int_or_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, int):
        if value < 0:
            return [
                (
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {value}: must be greater than or equal to 0",
                )
            ]
        return []
    text = str(value)
    if not text.endswith("%") or not text[:-1].isdigit():
        return [
            (
                "FieldValueInvalid",
                path,
                f"Invalid value: {_q(text)}: a valid percent string must be a numeric string "
                "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation "
                "is '[0-9]+%')",
            )
        ]
    if int(text[:-1]) > 100:
        return [
            ("FieldValueInvalid", path, f"Invalid value: {_q(text)}: must not be greater than 100%")
        ]
    return []


def pdb_causes(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        out.append(
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: {...}: minAvailable and maxUnavailable cannot be both set",
            )
        )
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            out += _int_or_percent(spec[key], f"spec.{key}")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy not in (None, "IfHealthyBudget", "AlwaysAllow"):
        out.append(
            (
                "FieldValueNotSupported",
                "spec.unhealthyPodEvictionPolicy",
                f"Unsupported value: {_q(policy)}: "
                'supported values: "AlwaysAllow", "IfHealthyBudget"',
            )
        )
    return out


# -- PriorityClass (pkg/apis/scheduling/validation ValidatePriorityClass) -------------------


def priority_class_causes(obj: Obj, old: Obj | None) -> list[Cause]:
    name = str(_get(obj, "metadata", "name") or "")
    value = obj.get("value")
    out: list[Cause] = []
    if name in SYSTEM_PRIORITY_CLASSES:
        if value != SYSTEM_PRIORITY_CLASSES[name]:
            out.append(
                (
                    "FieldValueForbidden",
                    "metadata.name",
                    f"Forbidden: priority class {name} is a system class, its value must "
                    f"be {SYSTEM_PRIORITY_CLASSES[name]}",
                )
            )
    elif name.startswith("system-"):
        out.append(
            (
                "FieldValueForbidden",
                "metadata.name",
                "Forbidden: priority class names with 'system-' prefix are reserved",
            )
        )
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        out.append(
            (
                "FieldValueForbidden",
                "value",
                "Forbidden: maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy not in (None, "PreemptLowerPriority", "Never"):
        out.append(
            (
                "FieldValueNotSupported",
                "preemptionPolicy",
                f"Unsupported value: {_q(policy)}: "
                'supported values: "Never", "PreemptLowerPriority"',
            )
        )
    if old is not None:  # ValidatePriorityClassUpdate: value and policy are immutable
        if old.get("value") != value:
            out.append(
                ("FieldValueForbidden", "value", "Forbidden: may not be changed in an update.")
            )
        if old.get("preemptionPolicy") != policy:
            out.append(
                (
                    "FieldValueInvalid",
                    "preemptionPolicy",
                    f"Invalid value: {_q(policy)}: field is immutable",
                )
            )
    return out


# -- Ingress (pkg/apis/networking/validation ValidateIngressSpec) ---------------------------


def ingress_causes(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    if not spec.get("defaultBackend") and not spec.get("rules"):
        out.append(
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: {...}: either `defaultBackend` or `rules` must be specified",
            )
        )
    for i, rule in enumerate(spec.get("rules") or ()):
        for j, path in enumerate(_get(rule, "http", "paths") or ()):
            at = f"spec.rules[{i}].http.paths[{j}]"
            ptype = path.get("pathType")
            if ptype is None:
                out.append(
                    (
                        "FieldValueRequired",
                        f"{at}.pathType",
                        "Required value: pathType must be specified",
                    )
                )
            elif ptype not in ("Exact", "Prefix", "ImplementationSpecific"):
                out.append(
                    (
                        "FieldValueNotSupported",
                        f"{at}.pathType",
                        f'Unsupported value: {_q(ptype)}: supported values: "Exact", '
                        '"ImplementationSpecific", "Prefix"',
                    )
                )
            p = path.get("path")
            if ptype in ("Exact", "Prefix") and not (isinstance(p, str) and p.startswith("/")):
                out.append(
                    (
                        "FieldValueInvalid",
                        f"{at}.path",
                        f"Invalid value: {_q(p)}: must be an absolute path",
                    )
                )
    return out


_CAUSES: dict[str, Callable[[Obj, Obj | None], list[Cause]]] = {
    "CronJob": lambda obj, old: cronjob_causes(obj),
    "PodDisruptionBudget": lambda obj, old: pdb_causes(obj),
    "PriorityClass": priority_class_causes,
    "Ingress": lambda obj, old: ingress_causes(obj),
}


def validate(res: Resource, obj: Obj, old: Obj | None) -> None:
    """422 with the field causes of ``obj`` (``old``: the object an update replaces)."""
    fn = _CAUSES.get(res.kind)
    if fn is None:
        return
    causes = fn(obj, old)
    if causes:
        raise invalid(res.group, res.kind, str(_get(obj, "metadata", "name") or ""), causes)


# -- admission -------------------------------------------------------------------------


def _classes(registry: Any, res: Resource) -> list[Obj]:
    items: list[Obj] = registry.store.list(res.prefix(None))[0]
    return items


def admit_pod(registry: Any, res: Resource, pod: Obj, old: Obj | None) -> None:
    """Priority admission (admission.go admitPod): ``priorityClassName`` resolved to
    ``priority`` and ``preemptionPolicy``; no name takes the globalDefault class; an
    unknown class, or a priority given that differs, is refused (403)."""
    spec = pod.setdefault("spec", {})
    if old is not None:  # an update keeps what admission computed at create
        ospec = old.get("spec") or {}
        for key in ("priority", "preemptionPolicy", "priorityClassName"):
            if spec.get(key) is None and ospec.get(key) is not None:
                spec[key] = ospec[key]
        return
    name = str(_get(pod, "metadata", "name") or _get(pod, "metadata", "generateName") or "")
    class_name = spec.get("priorityClassName")
    value, policy = 0, "PreemptLowerPriority"
    if class_name:
        pc = registry.store.get(PRIORITY_CLASSES.key(None, class_name))
        if pc is None:
            raise forbidden(res, name, f"no PriorityClass with name {class_name} was found")
        value = int(pc.get("value") or 0)
        policy = str(pc.get("preemptionPolicy") or policy)
    else:
        # getDefaultPriorityClass: the globalDefault one with the lowest value
        defaults = [c for c in _classes(registry, PRIORITY_CLASSES) if c.get("globalDefault")]
        if defaults:
            pc = min(defaults, key=lambda c: int(c.get("value") or 0))
            spec["priorityClassName"] = pc["metadata"]["name"]
            value = int(pc.get("value") or 0)
            policy = str(pc.get("preemptionPolicy") or policy)
            # defaults.pod filled 0 / PreemptLowerPriority before admission: those are
            # replaced (so an explicit priority 0 is overridden here, not refused)
            if spec.get("priority") == 0:
                spec["priority"] = value
            if spec.get("preemptionPolicy") == "PreemptLowerPriority":
                spec["preemptionPolicy"] = policy
    given = spec.get("priority")
    if given is not None and given != value:
        raise forbidden(
            res,
            name,
            f"the integer value of priority ({given}) must not be provided in pod spec; "
            f"priority admission controller computed {value} from the given PriorityClass name",
        )
    spec["priority"] = value
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise forbidden(
            res,
            name,
            f"the string value of PreemptionPolicy ({given_policy}) must not be provided in "
            f"pod spec; priority admission controller computed {policy} from the given "
            "PriorityClass name",
        )
    spec["preemptionPolicy"] = policy


def admit_priority_class(registry: Any, res: Resource, obj: Obj, old: Obj | None) -> None:
    """Priority admission's validate: only one globalDefault class (403 otherwise)."""
    if not obj.get("globalDefault"):
        return
    name = str(_get(obj, "metadata", "name") or "")
    for c in _classes(registry, PRIORITY_CLASSES):
        other = c["metadata"]["name"]
        if c.get("globalDefault") and other != name:
            raise forbidden(
                res,
                name,
                f"PriorityClass {other} is already marked as default. Only one default can exist",
            )


def admit_ingress(registry: Any, res: Resource, obj: Obj, old: Obj | None) -> None:
    """DefaultIngressClass: a new Ingress without a class gets the default one (the
    class annotated ``ingressclass.kubernetes.io/is-default-class: "true"``, newest
    first when several)."""
    spec = obj.setdefault("spec", {})
    if old is not None or spec.get("ingressClassName"):
        return
    if (_get(obj, "metadata", "annotations") or {}).get("kubernetes.io/ingress.class"):
        return
    marked = [
        c
        for c in _classes(registry, INGRESS_CLASSES)
        if (_get(c, "metadata", "annotations") or {}).get(DEFAULT_INGRESS_CLASS) == "true"
    ]
    if marked:
        newest = max(marked, key=lambda c: str(_get(c, "metadata", "creationTimestamp") or ""))
        spec["ingressClassName"] = newest["metadata"]["name"]


_ADMIT: dict[str, Callable[[Any, Resource, Obj, Obj | None], None]] = {
    "Pod": admit_pod,
    "PriorityClass": admit_priority_class,
    "Ingress": admit_ingress,
}


def admit(registry: Any, res: Resource, obj: Obj, old: Obj | None) -> None:
    """Mutating then validating admission of one write (old is None on create)."""
    fn = _ADMIT.get(res.kind)
    if fn is not None:
        fn(registry, res, obj, old)
    validate(res, obj, old)
