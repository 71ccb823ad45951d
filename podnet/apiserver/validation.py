"""Validation of API objects through podnet's manifests layer, so the API accepts and
rejects exactly what ``podnet run -f`` does; errors become 422 Status with causes.

Kinds the manifests layer does not model (ConfigMap, Node, Lease, ...) get its metadata
checks and the kubernetes-validate schema. Unknown fields follow the request's
``fieldValidation`` (apiserver ``pkg/endpoints/handlers/rest.go``): Strict is a 400
``strict decoding error``, Warn (the default) drops them with a warning, Ignore drops them.
Update rules (immutable fields) are those of each kind's ``ValidateXUpdate`` in
``pkg/apis/*/validation/validation.go``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from podnet.apiserver.admission import storage_validation
from podnet.apiserver.autoscaling import hpa
from podnet.apiserver.crd import custom, definition
from podnet.apiserver.errors import ApiError, bad_request, invalid
from podnet.apiserver.resources import Resource, custom_for
from podnet.errors import ManifestError
from podnet.manifests.build import _check
from podnet.manifests.check_meta import check_metadata, finalizer_errors
from podnet.manifests.kinds import KINDS
from podnet.manifests.lines import Path, format_path
from podnet.manifests.names import dns1123_subdomain, ip_address, qualified_name
from podnet.manifests.report import DocContext
from podnet.manifests.schema import part_check, schema_errors
from podnet.manifests.skipped import Skipped

Obj = dict[str, Any]
POD_BEARING = {
    ("", "Pod"),
    ("", "ReplicationController"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
}

_REASONS = (
    ("Required value", "FieldValueRequired"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
)


def cause(err: ManifestError) -> tuple[str, str, str]:
    """(reason, field, message) of one manifests-layer error (apimachinery field.ErrorType)."""
    reason = next((r for p, r in _REASONS if err.message.startswith(p)), "FieldValueInvalid")
    return reason, err.field or "", err.message


def _name(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, dict) else ""


def prune_unknown(obj: Obj, field_validation: str) -> list[str]:
    """Drop fields the schema does not know (returns the warnings), or 400 when Strict."""
    return prune(obj, field_validation)[0]


SchemaErrors = list[tuple[Path, str]]


def prune(obj: Obj, field_validation: str) -> tuple[list[str], SchemaErrors]:
    """:func:`prune_unknown`, and the schema's other complaints about ``obj`` (for
    :func:`validate`, so that one write runs the schema check once). A custom
    resource is pruned and defaulted by its CRD version's schema instead."""
    cr = custom_for(obj.get("apiVersion"), obj.get("kind"))
    if cr is not None:
        return custom.decode(cr, obj, field_validation), []
    errors = schema_errors(obj)
    unknown = [p for p, m in errors if m.startswith("unknown field")]
    rest = [(p, m) for p, m in errors if not m.startswith("unknown field")]
    if not unknown:
        return [], rest
    shown = [f'unknown field "{format_path(p)}"' for p in unknown]
    if field_validation == "Strict":
        raise bad_request("strict decoding error: " + ", ".join(shown))
    for path in unknown:
        _drop(obj, path)
    return ([] if field_validation == "Ignore" else shown), rest


def _drop(obj: Any, path: Path) -> None:
    for part in path[:-1]:
        obj = obj[part]
    del obj[path[-1]]


def validate(res: Resource, obj: Obj, schema: SchemaErrors | None = None) -> None:
    """422 Invalid listing every problem, as ``ValidateX`` does; nothing when valid.
    ``schema``: what :func:`prune` found (kinds the manifests layer models check their
    schema themselves)."""
    ctx = DocContext(obj, None, None)
    if res.custom is not None:
        check_metadata(ctx, res.kind, res.namespaced)
        causes = [cause(e) for e in ctx.errors] + custom.causes(res, obj)
        if causes:
            raise invalid(res.group, res.kind, _name(obj), causes)
        return
    typed = False  # the schema found nothing: every value has its type
    if res.kind in KINDS and KINDS[res.kind].api_version == res.group_version:
        _check(ctx, Skipped(), schema)
    else:
        for path, message in schema_errors(obj) if schema is None else schema:
            ctx.error(path, message)
        typed = not ctx.errors
        if typed:
            check_metadata(ctx, res.kind, res.namespaced)
    causes = [cause(e) for e in ctx.errors]
    if typed:  # PersistentVolumeClaim, PersistentVolume, StorageClass: after the metadata
        causes += storage_validation.causes(res, obj)
    if (res.group, res.kind) in POD_BEARING:  # generic ephemeral volumes' claim templates
        causes += storage_validation.ephemeral_causes(res, obj)
    if res.kind == definition.KIND and res.group == definition.GROUP and not causes:
        causes = definition.validate(obj)
    if causes:
        raise invalid(res.group, res.kind, _name(obj), causes)


def _immutable(field: str, value: Any) -> tuple[str, str, str]:
    return "FieldValueInvalid", field, f"Invalid value: {json.dumps(value)}: field is immutable"


_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")
_POD_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)
_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _pod_spec_without_mutable(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out = {k: v for k, v in spec.items() if k not in _POD_MUTABLE}
    for key in ("containers", "initContainers"):
        if isinstance(out.get(key), list):
            out[key] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                for c in out[key]
            ]
    return out


def update_causes(res: Resource, old: Obj, new: Obj) -> list[tuple[str, str, str]]:
    """What an update may not change (ValidatePodUpdate, ValidateServiceUpdate, ...)."""
    old_spec: Obj = old["spec"] if isinstance(old.get("spec"), dict) else {}
    spec: Obj = new["spec"] if isinstance(new.get("spec"), dict) else {}
    causes: list[tuple[str, str, str]] = []
    old_meta, meta = old.get("metadata") or {}, new.get("metadata") or {}
    if old_meta.get("deletionTimestamp"):
        added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
        if added:  # ValidateObjectMetaUpdate
            causes.append(
                (
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {json.dumps(sorted(added))}",
                )
            )
    if res.kind == "Pod":
        if _pod_spec_without_mutable(old_spec) != _pod_spec_without_mutable(spec):
            causes.append(("FieldValueForbidden", "spec", _POD_FORBIDDEN))
        old_tol, tol = old_spec.get("tolerations") or [], spec.get("tolerations") or []
        if any(t not in tol for t in old_tol):
            causes.append(
                (
                    "FieldValueForbidden",
                    "spec.tolerations",
                    "Forbidden: existing toleration can not be modified except its "
                    "tolerationSeconds",
                )
            )
    elif res.kind == "Service":
        old_ip, ip = old_spec.get("clusterIP"), spec.get("clusterIP")
        changing_type = "ExternalName" in (old_spec.get("type"), spec.get("type"))
        if old_ip and ip and old_ip != ip and not changing_type:
            causes.append(_immutable("spec.clusterIP", ip))
    elif res.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
        if old_spec.get("selector") != spec.get("selector"):
            causes.append(_immutable("spec.selector", spec.get("selector")))
        if res.kind == "StatefulSet":
            rest = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
            old_rest = {k: v for k, v in old_spec.items() if k not in _STS_MUTABLE}
            if rest != old_rest:
                causes.append(
                    (
                        "FieldValueForbidden",
                        "spec",
                        "Forbidden: updates to statefulset spec for fields other than "
                        "'replicas', 'ordinals', 'template', 'updateStrategy', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                        "forbidden",
                    )
                )
    elif (res.group, res.kind) in storage_validation.KINDS:
        causes += storage_validation.update_causes(res, old, new)
    elif res.kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
        for key in ("data", "binaryData", "stringData"):
            if old.get(key) != new.get(key):
                causes.append(
                    (
                        "FieldValueForbidden",
                        key,
                        "Forbidden: field is immutable when `immutable` is set",
                    )
                )
    return causes


# validation.go allowedEphemeralContainerFields (JSON names of the fields it forbids, and
# of the newer container fields it leaves out of the allow list: resizePolicy,
# restartPolicy, restartPolicyRules).
_EPHEMERAL_FORBIDDEN = (
    "ports",
    "resources",
    "resizePolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "restartPolicy",
    "restartPolicyRules",
)


def _dicts(spec: Obj, key: str) -> list[Obj]:
    v = spec.get(key)
    return [c for c in v if isinstance(c, dict)] if isinstance(v, list) else []


def ephemeral_causes(old: Obj, new: Obj) -> list[tuple[str, str, str]]:
    """``ValidatePodEphemeralContainersUpdate`` (pkg/apis/core/validation/validation.go):
    the new list as ``validateEphemeralContainers`` checks it (a name and an image, names
    unique across every kind of container, a target among the pod's containers, no ports,
    probes, resources or lifecycle, no volume subPath), then existing ephemeral
    containers neither removed nor changed, and no static pod."""
    if "kubernetes.io/config.mirror" in ((old.get("metadata") or {}).get("annotations") or {}):
        return [
            (
                "FieldValueForbidden",
                "",
                "Forbidden: static pods do not support ephemeral containers",
            )
        ]
    spec: Obj = new["spec"] if isinstance(new.get("spec"), dict) else {}
    old_spec: Obj = old["spec"] if isinstance(old.get("spec"), dict) else {}
    others = {c.get("name") for k in ("containers", "initContainers") for c in _dicts(spec, k)}
    names = set(others)
    causes: list[tuple[str, str, str]] = []
    path = "spec.ephemeralContainers"
    for i, c in enumerate(_dicts(spec, "ephemeralContainers")):
        at = f"{path}[{i}]"
        name = c.get("name")
        if not name:
            causes.append(("FieldValueRequired", f"{at}.name", "Required value"))
        elif name in names:
            causes.append(
                ("FieldValueDuplicate", f"{at}.name", f"Duplicate value: {json.dumps(name)}")
            )
        else:
            names.add(name)
        if not c.get("image"):
            causes.append(("FieldValueRequired", f"{at}.image", "Required value"))
        target = c.get("targetContainerName")
        if target and target not in others:
            causes.append(
                (
                    "FieldValueNotFound",
                    f"{at}.targetContainerName",
                    f"Not found: {json.dumps(target)}",
                )
            )
        for key in _EPHEMERAL_FORBIDDEN:
            if c.get(key) not in (None, {}, [], ""):
                causes.append(
                    (
                        "FieldValueForbidden",
                        f"{at}.{key}",
                        "Forbidden: cannot be set for an Ephemeral Container",
                    )
                )
        for j, mount in enumerate(_dicts(c, "volumeMounts")):
            for key in ("subPath", "subPathExpr"):
                if mount.get(key):
                    causes.append(
                        (
                            "FieldValueForbidden",
                            f"{at}.volumeMounts[{j}].{key}",
                            "Forbidden: cannot be set for an Ephemeral Container",
                        )
                    )
    given = {c.get("name"): c for c in _dicts(spec, "ephemeralContainers")}
    for c in _dicts(old_spec, "ephemeralContainers"):
        name = c.get("name")
        if name not in given:
            causes.append(
                (
                    "FieldValueForbidden",
                    path,
                    f"Forbidden: existing ephemeral containers {json.dumps(name)} "
                    f"may not be removed\n",
                )
            )
        elif given[name] != c:
            causes.append(
                (
                    "FieldValueForbidden",
                    f"{path}[{name}]",
                    f"Forbidden: existing ephemeral containers {json.dumps(name)} "
                    f"may not be changed\n",
                )
            )
    return causes


def create_causes(res: Resource, obj: Obj) -> list[tuple[str, str, str]]:
    """What only a create checks: the finalizers' names (ValidateObjectMeta; an update
    does not look at them) and a pod without ephemeral containers (ValidatePodCreate)."""
    meta = obj.get("metadata")
    finalizers = meta.get("finalizers") if isinstance(meta, dict) else None
    out = [("FieldValueInvalid", "metadata.finalizers", m) for m in finalizer_errors(finalizers)]
    spec = obj.get("spec")
    if res.kind == "Pod" and isinstance(spec, dict) and spec.get("ephemeralContainers"):
        out.append(
            (
                "FieldValueForbidden",
                "spec.ephemeralContainers",
                "Forbidden: cannot be set on create",
            )
        )
    return out


def validate_create(res: Resource, obj: Obj, schema: SchemaErrors | None = None) -> None:
    validate(res, obj, schema)
    causes = create_causes(res, obj)
    if res.kind == hpa.KIND and res.group == hpa.GROUP:
        causes += hpa.causes(obj)
    if causes:
        raise invalid(res.group, res.kind, _name(obj), causes)


def validate_update(
    res: Resource,
    old: Obj,
    new: Obj,
    subresource: str | None = None,
    schema: SchemaErrors | None = None,
) -> None:
    validate(res, new, schema)
    if subresource == "ephemeralcontainers":
        causes = ephemeral_causes(old, new)
    else:
        causes = update_causes(res, old, new)
        if res.kind == definition.KIND and res.group == definition.GROUP and subresource is None:
            causes += definition.update_causes(old, new)
        if res.kind == hpa.KIND and res.group == hpa.GROUP and subresource is None:
            causes += hpa.causes(new)
    if causes:
        raise invalid(res.group, res.kind, _name(new), causes)


# --- status updates ----------------------------------------------------------------------


def validate_status_update(
    res: Resource, old: Obj, new: Obj, field_validation: str
) -> tuple[Obj, list[str]]:
    """A ``status`` write, validated once, as the status strategies do
    (``ValidateXStatusUpdate``; pods: ``ValidatePodStatusUpdate``,
    pkg/apis/core/validation/validation.go): ``new`` is ``old`` but for its status and
    metadata (:func:`podnet.apiserver.strategy.prepare_status_update`), and ``old`` was
    valid when stored, so when the metadata is the stored one (bar resourceVersion and
    managedFields, schema-checked when changed) only the status is schema-checked; then
    the pod rules. Changed labels or annotations are checked in full
    (``ValidateObjectMetaUpdate``).

    Anything the compiled check says no to takes the full path on a copy (unknown fields
    pruned with their warnings, every error with its message). Returns the object to
    store and the warnings.
    """
    found: list[str] = []
    if res.custom is not None:  # statusStrategy: the whole object against the schema
        new = copy.deepcopy(new)
        found = custom.decode(res, new, field_validation)
        validate_update(res, old, new, "status")
        return new, found
    status_ok = part_check(res.kind, res.group_version, "status")
    meta_ok = part_check(res.kind, res.group_version, "metadata")
    meta, old_meta = new["metadata"], old.get("metadata") or {}
    if (
        status_ok is None
        or meta_ok is None
        or _meta_changed(meta, old_meta)
        or not status_ok(new.get("status"))
        or (meta.get("managedFields") != old_meta.get("managedFields") and not meta_ok(meta))
    ):
        new = copy.deepcopy(new)  # pruning changes it in place; its spec is old's own
        found, schema = prune(new, field_validation)
        validate_update(res, old, new, "status", schema)
    if res.kind == "Pod":
        causes = pod_status_causes(old, new)
        if causes:
            raise invalid(res.group, res.kind, _name(new), causes)
    return new, found


def _meta_changed(meta: Obj, old_meta: Obj) -> bool:
    skip = ("resourceVersion", "managedFields")
    keys = (meta.keys() | old_meta.keys()).difference(skip)
    return any(meta.get(k) != old_meta.get(k) for k in keys)


# core.PodConditionType constants: any other condition type must be a qualified name
_POD_CONDITIONS = frozenset(
    {
        "ContainersReady",
        "Initialized",
        "Ready",
        "PodScheduled",
        "DisruptionTarget",
        "PodReadyToStartContainers",
        "PodResizePending",
        "PodResizeInProgress",
    }
)


def pod_status_causes(old: Obj, new: Obj) -> list[tuple[str, str, str]]:
    """``ValidatePodStatusUpdate``'s status rules: condition types, nominatedNodeName,
    no terminated container brought back when the pod does not restart it
    (``ValidateContainerStateTransition``), ``validatePodIPs``/``validateHostIPs``."""
    status: Obj = new["status"] if isinstance(new.get("status"), dict) else {}
    old_status: Obj = old["status"] if isinstance(old.get("status"), dict) else {}
    spec: Obj = old["spec"] if isinstance(old.get("spec"), dict) else {}
    causes: list[tuple[str, str, str]] = []
    for i, c in enumerate(status.get("conditions") or ()):
        type_ = c.get("type") if isinstance(c, dict) else None
        if isinstance(type_, str) and type_ not in _POD_CONDITIONS:
            msg = qualified_name(type_)
            if msg is not None:
                causes.append(
                    (
                        "FieldValueInvalid",
                        f"status.conditions[{i}].Type",
                        f"Invalid value: {json.dumps(type_)}: {msg}",
                    )
                )
    nominated = status.get("nominatedNodeName")
    if nominated and nominated != old_status.get("nominatedNodeName"):
        msg = dns1123_subdomain(str(nominated))
        if msg is not None:
            causes.append(
                (
                    "FieldValueInvalid",
                    "status.nominatedNodeName",
                    f"Invalid value: {json.dumps(nominated)}: {msg}",
                )
            )
    policy = spec.get("restartPolicy", "Always")
    sidecars = {c.get("name") for c in _dicts(spec, "initContainers") if c.get("restartPolicy")}
    for key, restart in (
        ("containerStatuses", policy),
        ("initContainerStatuses", policy),
        ("ephemeralContainerStatuses", "Never"),
    ):
        skip = sidecars if key == "initContainerStatuses" else set()
        causes += _state_transitions(status, old_status, key, restart, skip)
    for key in ("podIPs", "hostIPs"):
        if status.get(key) != old_status.get(key):  # the stored ones passed already
            causes += _ip_list_causes(status, key)
    return causes


def _state_transitions(
    status: Obj, old_status: Obj, key: str, policy: str, skip: set[Any]
) -> list[tuple[str, str, str]]:
    if policy == "Always":
        return []
    new_by_name = {c.get("name"): c for c in _dicts(status, key)}
    causes = []
    for i, was in enumerate(_dicts(old_status, key)):
        ended = (was.get("state") or {}).get("terminated")
        if not isinstance(ended, dict) or was.get("name") in skip:
            continue
        if ended.get("exitCode", 0) != 0 and policy == "OnFailure":
            continue
        now = new_by_name.get(was.get("name"))
        if now is not None and not (now.get("state") or {}).get("terminated"):
            causes.append(
                (
                    "FieldValueForbidden",
                    f"status.{key}[{i}].state",
                    "Forbidden: may not be transitioned to non-terminated state",
                )
            )
    return causes


def _ip_list_causes(status: Obj, key: str) -> list[tuple[str, str, str]]:
    """Each a valid IP; more than one only as one IPv4 and one IPv6."""
    entries = _dicts(status, key)
    causes = []
    families = []
    for i, entry in enumerate(entries):
        ip = str(entry.get("ip", ""))
        msg = ip_address(ip)
        if msg is not None:
            causes.append(
                (
                    "FieldValueInvalid",
                    f"status.{key}[{i}]",
                    f"Invalid value: {json.dumps(ip)}: {msg}",
                )
            )
        else:
            families.append(":" in ip)
    if len(entries) > 1 and not causes and (len(entries) > 2 or len(set(families)) != 2):
        causes.append(
            (
                "FieldValueInvalid",
                f"status.{key}",
                f"Invalid value: {json.dumps(entries)}: may specify no more than one IP for "
                "each IP family",
            )
        )
    return causes


__all__ = [
    "ApiError",
    "cause",
    "create_causes",
    "ephemeral_causes",
    "pod_status_causes",
    "prune",
    "prune_unknown",
    "validate",
    "validate_create",
    "validate_status_update",
    "validate_update",
]
