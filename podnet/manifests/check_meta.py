"""Checks on metadata, labels and label selectors (what the schema cannot express).

Mirrors k8s.io/apimachinery/pkg/api/validation/objectmeta.go (ValidateObjectMeta),
pkg/apis/meta/v1/validation/validation.go (ValidateLabels, ValidateLabelSelector,
ValidateLabelSelectorRequirement). Values may be ``None`` or of the wrong type when the
schema already reported them; those are skipped here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from podnet.manifests import names
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext


def path_segment_name(value: str) -> str | None:
    """``path.IsValidPathSegmentName`` (apimachinery/pkg/api/validation/path), the
    RBAC kinds' name rule (rbac/validation ValidateRBACName): ``system:basic-user``
    is a valid ClusterRole name."""
    if value in (".", ".."):
        return f"may not be '{value}'"
    for bad in ("/", "%"):
        if bad in value:
            return f"may not contain '{bad}'"
    return None


# Object name rules per kind (core/validation ValidateNamespaceName = NameIsDNSLabel,
# ValidateServiceName = NameIsDNS1035Label, ValidatePodName = NameIsDNSSubdomain;
# apps/validation ValidateStatefulSetName = NameIsDNSLabel, others NameIsDNSSubdomain).
NAME_RULES: dict[str, Callable[[str], str | None]] = {
    "Namespace": names.dns1123_label,
    "Service": names.dns1035_label,
    "StatefulSet": names.dns1123_label,
    "Role": path_segment_name,
    "ClusterRole": path_segment_name,
    "RoleBinding": path_segment_name,
    "ClusterRoleBinding": path_segment_name,
}
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def check_metadata(ctx: DocContext, kind: str, namespaced: bool) -> None:
    meta = ctx.doc.get("metadata")
    if not isinstance(meta, dict):
        ctx.error(("metadata",), "Required value: metadata with a name is required")
        return
    name = meta.get("name")
    if not name:
        hint = " (generateName is not supported)" if meta.get("generateName") else ""
        ctx.error(("metadata", "name"), f"Required value: name is required{hint}")
    elif isinstance(name, str):
        rule = NAME_RULES.get(kind, names.dns1123_subdomain)
        if (msg := rule(name)) is not None:
            ctx.error(("metadata", "name"), f"Invalid value {name!r}: {msg}")
    ns = meta.get("namespace")
    if namespaced and isinstance(ns, str) and ns and (msg := names.dns1123_label(ns)):
        ctx.error(("metadata", "namespace"), f"Invalid value {ns!r}: {msg}")
    check_labels(ctx, ("metadata", "labels"), meta.get("labels"))
    check_annotations(ctx, ("metadata", "annotations"), meta.get("annotations"))
    check_controller_refs(ctx, ("metadata", "ownerReferences"), meta.get("ownerReferences"))


# objectmeta.go TotalAnnotationSizeLimitB: an object's annotations, keys and values
ANNOTATIONS_LIMIT = 256 * 1024


def check_annotations(ctx: DocContext, path: Path, annotations: Any) -> None:
    """ValidateAnnotations: every key a qualified name (lowercased first) and keys and
    values at most 256 KiB together, errors on the map's own path as upstream's are."""
    if not isinstance(annotations, dict):
        return
    total = 0
    for key, value in annotations.items():
        if (msg := names.qualified_name(key.lower())) is not None:
            ctx.error(path, f"Invalid value: {json.dumps(key)}: {msg}")
        total += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > ANNOTATIONS_LIMIT:
        ctx.error(path, f"Too long: must have at most {ANNOTATIONS_LIMIT} bytes")


def check_controller_refs(ctx: DocContext, path: Path, refs: Any) -> None:
    """ValidateOwnerReferences: at most one reference is the controller (the required
    fields of each are the schema's to report)."""
    if not isinstance(refs, list):
        return
    controllers = [r.get("name") for r in refs if isinstance(r, dict) and r.get("controller")]
    if len(controllers) > 1:
        ctx.error(
            path,
            f"Invalid value: {_compact(refs)}: Only one reference can have Controller set "
            f'to true. Found "true" in references for {controllers[0]} and {controllers[1]}',
        )


def _compact(value: Any) -> str:
    """A list in an Invalid value as field.Error prints one (JSON)."""
    return json.dumps(value, separators=(",", ":"))


# metav1.FinalizerOrphanDependents, FinalizerDeleteDependents
ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"


def finalizer_errors(finalizers: Any) -> list[str]:
    """ValidateFinalizers' messages for ``metadata.finalizers`` (on create only:
    ValidateObjectMetaAccessorUpdate does not call it): every name a qualified name, and
    not both the orphan and the foreground finalizer."""
    if not isinstance(finalizers, list):
        return []
    out = [
        f"Invalid value: {json.dumps(f)}: {msg}"
        for f in finalizers
        if isinstance(f, str) and (msg := names.qualified_name(f)) is not None
    ]
    if ORPHAN in finalizers and FOREGROUND in finalizers:
        out.append(
            f"Invalid value: {_compact(finalizers)}: finalizer {ORPHAN} and {FOREGROUND} "
            "cannot be both set"
        )
    return out


def unsupported(value: str, supported: Sequence[str]) -> str:
    """field.NotSupported's text: ``Unsupported value: "X": supported values: "A", "B"``
    (apimachinery/pkg/util/validation/field/errors.go; strings quoted as Go's %q)."""
    listed = ", ".join(json.dumps(s) for s in supported)
    return f"Unsupported value: {json.dumps(value)}: supported values: {listed}"


def check_enum(ctx: DocContext, path: Path, value: Any, supported: Sequence[str]) -> None:
    """A string field of a fixed set of values. Absent and ``""`` are left alone: the
    API server's defaulting (pkg/apis/core/v1/defaults.go) fills them before
    validation; other types are the schema's to report."""
    if isinstance(value, str) and value and value not in supported:
        ctx.error(path, unsupported(value, supported))


def check_labels(ctx: DocContext, path: Path, labels: Any) -> None:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        if (msg := names.qualified_name(key)) is not None:
            ctx.error((*path, key), f"Invalid label key {key!r}: {msg}")
        if value is None:
            ctx.error((*path, key), "Invalid value: label values must be strings, not null")
        elif isinstance(value, str) and (msg := names.label_value(value)) is not None:
            ctx.error((*path, key), f"Invalid label value {value!r}: {msg}")


def check_selector(ctx: DocContext, path: Path, selector: Any) -> None:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions)."""
    if not isinstance(selector, dict):
        return
    check_labels(ctx, (*path, "matchLabels"), selector.get("matchLabels"))
    exprs = selector.get("matchExpressions")
    if not isinstance(exprs, list):
        return
    for i, req in enumerate(exprs):
        if not isinstance(req, dict):
            continue
        rpath = (*path, "matchExpressions", i)
        key = req.get("key")
        if not isinstance(key, str) or not key:
            ctx.error((*rpath, "key"), "Required value: a selector requirement needs a key")
        elif (msg := names.qualified_name(key)) is not None:
            ctx.error((*rpath, "key"), f"Invalid value {key!r}: {msg}")
        op = req.get("operator")
        values = req.get("values") or []
        if op not in SELECTOR_OPERATORS:
            ctx.error(
                (*rpath, "operator"),
                f"Unsupported value {op!r}: supported values: "
                + ", ".join(f'"{o}"' for o in SELECTOR_OPERATORS),
            )
        elif op in ("In", "NotIn") and not values:
            ctx.error(
                (*rpath, "values"),
                f"Required value: must be specified when `operator` is '{op}'",
            )
        elif op in ("Exists", "DoesNotExist") and values:
            ctx.error(
                (*rpath, "values"),
                f"Forbidden: may not be specified when `operator` is '{op}'",
            )
        for j, v in enumerate(values if isinstance(values, list) else []):
            if isinstance(v, str) and (msg := names.label_value(v)) is not None:
                ctx.error((*rpath, "values", j), f"Invalid value {v!r}: {msg}")


def check_service_selector(ctx: DocContext, path: Path, selector: Any) -> None:
    """A Service's plain ``map[string]string`` selector: validated as labels."""
    check_labels(ctx, path, selector)


def is_empty_selector(selector: Any) -> bool:
    return not isinstance(selector, dict) or (
        not selector.get("matchLabels") and not selector.get("matchExpressions")
    )
