"""Checks on workload specs (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job).

Mirrors k8s.io/kubernetes pkg/apis/apps/validation/validation.go (ValidateDeploymentSpec,
ValidateReplicaSetSpec, ValidateStatefulSetSpec, ValidateDaemonSetSpec: a non-empty
selector that matches the template's labels, ``restartPolicy`` Always) and
pkg/apis/batch/validation/validation.go (ValidateJobSpec: restartPolicy OnFailure or
Never, non-negative parallelism/completions; the selector is generated unless
``manualSelector``). ReplicationController (core/validation ValidateReplicationControllerSpec,
ValidatePodTemplateSpecForRC): its selector is a plain label map, defaulted to the
template's labels when empty (core/v1 SetDefaults_ReplicationController), non-empty, and
matching the template's labels.
"""

from __future__ import annotations

from typing import Any

from podnet.manifests.check_meta import (
    check_labels,
    check_selector,
    is_empty_selector,
    unsupported,
)
from podnet.manifests.check_pod import check_pod_spec
from podnet.manifests.convert import labels_of, to_selector
from podnet.manifests.names import dns1123_label
from podnet.manifests.report import DocContext

COUNTS = ("replicas", "parallelism", "completions", "minReadySeconds")


def check_workload(ctx: DocContext, kind: str, spec: Any) -> None:
    if not isinstance(spec, dict):
        ctx.error(("spec",), "Required value: a workload needs a spec with a template")
        return
    template = spec.get("template")
    if not isinstance(template, dict):
        ctx.error(("spec", "template"), "Required value: a pod template is required")
        return
    tmeta = template.get("metadata")
    check_labels(ctx, ("spec", "template", "metadata", "labels"), (tmeta or {}).get("labels"))
    check_pod_spec(ctx, ("spec", "template", "spec"), template.get("spec"))
    for fld in COUNTS:
        value = spec.get(fld)
        if isinstance(value, int) and value < 0:
            ctx.error(("spec", fld), f"Invalid value {value}: must be greater than or equal to 0")
    policy = (template.get("spec") or {}).get("restartPolicy")
    if kind == "Job":
        if not policy:
            ctx.error(
                ("spec", "template", "spec", "restartPolicy"),
                'Required value: valid values: "OnFailure", "Never"',
            )
        elif policy not in ("OnFailure", "Never"):
            ctx.error(
                ("spec", "template", "spec", "restartPolicy"),
                unsupported(str(policy), ("OnFailure", "Never")),
            )
        if spec.get("manualSelector") is not True:
            return
    elif policy not in (None, "", "Always"):
        ctx.error(
            ("spec", "template", "spec", "restartPolicy"), unsupported(str(policy), ("Always",))
        )
    if kind == "ReplicationController":
        _check_rc_selector(ctx, spec.get("selector"), labels_of(tmeta))
        return
    _check_selector_matches(ctx, spec.get("selector"), labels_of(tmeta))
    service_name = spec.get("serviceName")
    if (
        kind == "StatefulSet"
        and isinstance(service_name, str)
        and service_name
        and (msg := dns1123_label(service_name)) is not None
    ):
        ctx.error(("spec", "serviceName"), f"Invalid value {service_name!r}: {msg}")


def _check_selector_matches(ctx: DocContext, selector: Any, labels: dict[str, str]) -> None:
    if is_empty_selector(selector):
        ctx.error(("spec", "selector"), "Invalid value: empty selector is invalid for a workload")
        return
    before = len(ctx.errors)
    check_selector(ctx, ("spec", "selector"), selector)
    if len(ctx.errors) == before and not to_selector(selector).matches(labels):
        ctx.error(
            ("spec", "template", "metadata", "labels"),
            f"Invalid value {labels!r}: `selector` does not match template `labels`",
        )


def _check_rc_selector(ctx: DocContext, selector: Any, labels: dict[str, str]) -> None:
    if not selector:
        selector = labels  # SetDefaults_ReplicationController
    if not selector:
        ctx.error(("spec", "selector"), "Required value: the selector or template labels")
        return
    before = len(ctx.errors)
    check_labels(ctx, ("spec", "selector"), selector)
    if len(ctx.errors) == before and any(labels.get(k) != v for k, v in selector.items()):
        ctx.error(
            ("spec", "template", "metadata", "labels"),
            f"Invalid value {labels!r}: `selector` does not match template `labels`",
        )
