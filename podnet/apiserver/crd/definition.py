"""CustomResourceDefinition objects: their validation, the names their controllers accept,
their conditions, and the resources an Established CRD serves.

Validation is ``pkg/apis/apiextensions/validation/validation.go``
(ValidateCustomResourceDefinition and ...Update: names, group, scope, exactly one
storage version, a structural schema per version, printer columns, the scale paths);
the names and conditions are the naming controller's
(``pkg/controller/status/naming_controller.go``: NamesAccepted, conflicts with other
CRDs of the group) and the establishing controller's (``pkg/controller/establish``:
Established once the names are accepted). All in
staging/src/k8s.io/apiextensions-apiserver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from podnet.apiserver.crd import schema as crdschema
from podnet.apiserver.resources import RESOURCES, VERBS, CustomInfo, Resource
from podnet.manifests.names import dns1123_subdomain

Obj = dict[str, Any]
Cause = tuple[str, str, str]

GROUP = "apiextensions.k8s.io"
KIND = "CustomResourceDefinition"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


def _dns1035(value: str) -> str | None:
    """apimachinery IsDNS1035Label's message, None when valid."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1035.match(value):
        return (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character "
            "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return None


def _d(obj: Any, *keys: str) -> Any:
    for k in keys:
        obj = obj.get(k) if isinstance(obj, dict) else None
    return obj


def _invalid(path: str, value: Any, msg: str) -> Cause:
    return "FieldValueInvalid", path, f"Invalid value: {json.dumps(value)}: {msg}"


def _names_causes(names: Obj) -> list[Cause]:
    causes: list[Cause] = []
    p = "spec.names"
    for key in ("plural", "singular"):
        v = names.get(key) or ""
        if not v and key == "plural":
            causes.append(("FieldValueRequired", f"{p}.{key}", "Required value"))
        elif v and (msg := _dns1035(v)):
            causes.append(_invalid(f"{p}.{key}", v, msg))
    for key in ("kind", "listKind"):
        v = names.get(key) or ""
        if not v:
            causes.append(("FieldValueRequired", f"{p}.{key}", "Required value"))
        elif msg := _dns1035(v.lower()):
            causes.append(
                _invalid(f"{p}.{key}", v, "may have mixed case, but should otherwise match: " + msg)
            )
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        causes.append(
            _invalid(f"{p}.listKind", names["listKind"], "kind and listKind may not be the same")
        )
    for key in ("shortNames", "categories"):
        for i, v in enumerate(names.get(key) or ()):
            if msg := _dns1035(str(v)):
                causes.append(_invalid(f"{p}.{key}[{i}]", v, msg))
    return causes


def validate(crd: Obj) -> list[Cause]:
    """ValidateCustomResourceDefinition's causes for ``crd`` (v1), none when valid."""
    causes: list[Cause] = []
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    group = str(spec.get("group") or "")
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    assert isinstance(names, dict)
    name = str(_d(crd, "metadata", "name") or "")
    if name != f"{names.get('plural', '')}.{group}":
        causes.append(_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        causes.append(("FieldValueRequired", "spec.group", "Required value"))
    else:
        if msg := dns1123_subdomain(group):
            causes.append(_invalid("spec.group", group, msg))
        elif len(group.split(".")) < 2:
            causes.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        causes.append(
            (
                "FieldValueNotSupported" if scope else "FieldValueRequired",
                "spec.scope",
                f'Unsupported value: {json.dumps(scope)}: supported values: "Cluster", "Namespaced"'
                if scope
                else "Required value",
            )
        )
    causes += _names_causes(names)
    causes += _versions_causes(spec)
    if spec.get("preserveUnknownFields") is True:
        causes.append(
            _invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    causes += _approval_causes(crd, group)
    return causes


APPROVAL = "api-approved.kubernetes.io"
_APPROVAL_PR = "see https://github.com/kubernetes/enhancements/pull/1111"


def _approval_causes(crd: Obj, group: str) -> list[Cause]:
    """validateAPIApproval with helpers.GetAPIApprovalState: a group under k8s.io or
    kubernetes.io needs the annotation, a URL or a reason starting "unapproved"."""
    protected = group in ("k8s.io", "kubernetes.io") or group.endswith(
        (".k8s.io", ".kubernetes.io")
    )
    if not protected:
        return []
    value = str((_d(crd, "metadata", "annotations") or {}).get(APPROVAL) or "")
    field = f"metadata.annotations[{APPROVAL}]"
    if not value:
        return [
            (
                "FieldValueRequired",
                field,
                f'Required value: protected groups must have approval annotation "{APPROVAL}", '
                + _APPROVAL_PR,
            )
        ]
    url = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s]+", value)
    if value.startswith("unapproved") or url:
        return []
    return [
        _invalid(
            field,
            value,
            f'protected groups must have approval annotation "{APPROVAL}" with either a URL or '
            f'a reason starting with "unapproved", {_APPROVAL_PR}',
        )
    ]


def _versions_causes(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    versions = [v for v in spec.get("versions") or () if isinstance(v, dict)]
    if not versions:
        return [
            (
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have at least one version",
            )
        ]
    seen: set[str] = set()
    storage = 0
    unique = True
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        vname = str(v.get("name") or "")
        if not vname:
            causes.append(("FieldValueRequired", f"{p}.name", "Required value"))
        elif msg := _dns1035(vname):
            causes.append(_invalid(f"{p}.name", vname, msg))
        elif vname in seen:
            unique = False
        seen.add(vname)
        storage += bool(v.get("storage"))
        causes += _schema_causes(v, p)
        for j, col in enumerate(v.get("additionalPrinterColumns") or ()):
            causes += _column_causes(col, f"{p}.additionalPrinterColumns[{j}]")
        scale = _d(v, "subresources", "scale")
        if isinstance(scale, dict):
            causes += _scale_causes(scale, f"{p}.subresources.scale")
    # validation.go: both on spec.versions, whose value (the Go slice) is left out here
    if not unique:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must contain unique version names",
            )
        )
    if storage != 1:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    return causes


def _schema_causes(v: Obj, p: str) -> list[Cause]:
    s = _d(v, "schema", "openAPIV3Schema")
    path = f"{p}.schema.openAPIV3Schema"
    if not isinstance(s, dict):
        return [("FieldValueRequired", path, "Required value: schemas are required")]
    return crdschema.structural_causes(s, path)


def _column_causes(col: Any, p: str) -> list[Cause]:
    if not isinstance(col, dict):
        return [("FieldValueInvalid", p, "Invalid value: must be an object")]
    causes: list[Cause] = []
    if not col.get("name"):
        causes.append(("FieldValueRequired", f"{p}.name", "Required value"))
    typ = col.get("type")
    if typ not in _COLUMN_TYPES:
        allowed = ", ".join(json.dumps(t) for t in _COLUMN_TYPES)
        causes.append(
            (
                "FieldValueNotSupported",
                f"{p}.type",
                f"Unsupported value: {json.dumps(typ)}: supported values: {allowed}",
            )
        )
    if not col.get("jsonPath"):
        causes.append(("FieldValueRequired", f"{p}.jsonPath", "Required value"))
    return causes


def _scale_causes(scale: Obj, p: str) -> list[Cause]:
    causes: list[Cause] = []
    spec_path = str(scale.get("specReplicasPath") or "")
    if not spec_path:
        causes.append(("FieldValueRequired", f"{p}.specReplicasPath", "Required value"))
    elif not spec_path.startswith(".spec."):
        causes.append(_invalid(f"{p}.specReplicasPath", spec_path, "should start with .spec"))
    status_path = str(scale.get("statusReplicasPath") or "")
    if not status_path:
        causes.append(("FieldValueRequired", f"{p}.statusReplicasPath", "Required value"))
    elif not status_path.startswith(".status."):
        causes.append(_invalid(f"{p}.statusReplicasPath", status_path, "should start with .status"))
    return causes


def update_causes(old: Obj, new: Obj) -> list[Cause]:
    """ValidateCustomResourceDefinitionUpdate: the group and plural never change; the
    scope and kind not once Established."""
    causes: list[Cause] = []
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    fields = [("spec.group", ("group",)), ("spec.names.plural", ("names", "plural"))]
    if condition(old, "Established"):
        fields += [("spec.scope", ("scope",)), ("spec.names.kind", ("names", "kind"))]
    for path, keys in fields:
        a, b = _d(os_, *keys), _d(ns_, *keys)
        if a != b:
            causes.append(_invalid(path, b, "field is immutable"))
    return causes


# ----------------------------------------------------------------------- status


def condition(crd: Obj, type_: str) -> bool:
    """Whether the condition ``type_`` is True."""
    for c in _d(crd, "status", "conditions") or ():
        if isinstance(c, dict) and c.get("type") == type_:
            return bool(c.get("status") == "True")
    return False


def _builtin_names(group: str) -> set[str]:
    out: set[str] = set()
    for r in RESOURCES:
        if r.group == group:
            out |= {r.plural, r.singular, *r.short_names}
    return out


def accepted_names(crd: Obj, others: Iterable[Obj]) -> tuple[Obj, str, str]:
    """(status.acceptedNames, NamesAccepted reason, message) as the naming controller's
    calculateNamesAndConditions: names taken by another CRD of the group are refused
    (PluralConflict, SingularConflict, ShortNamesConflict, KindConflict,
    ListKindConflict); an accepted name stays accepted."""
    spec = crd.get("spec") or {}
    group = spec.get("group")
    names: Obj = spec.get("names") or {}
    me = _d(crd, "metadata", "name")
    taken_resource: set[Any] = _builtin_names(str(group))
    taken_kind: set[Any] = set()
    for other in others:
        if _d(other, "metadata", "name") == me or _d(other, "spec", "group") != group:
            continue
        acc = _d(other, "status", "acceptedNames") or {}
        taken_resource |= {acc.get("plural"), acc.get("singular"), *(acc.get("shortNames") or ())}
        taken_kind |= {acc.get("kind"), acc.get("listKind")}
    taken_resource.discard(None)
    old: Obj = _d(crd, "status", "acceptedNames") or {}
    plural, singular = names.get("plural", ""), names.get("singular") or ""
    kind, list_kind = names.get("kind", ""), names.get("listKind") or f"{names.get('kind', '')}List"
    out = {"plural": "", "kind": "", **old}  # Go's struct: both always written
    reason, message = "NoConflicts", "no conflicts found"
    if plural in taken_resource:
        reason, message = "PluralConflict", f'"{plural}" is already in use'
    elif singular and singular in taken_resource:
        reason, message = "SingularConflict", f'"{singular}" is already in use'
    elif taken := [s for s in names.get("shortNames") or () if s in taken_resource]:
        reason, message = "ShortNamesConflict", f'"{taken[0]}" is already in use'
    elif kind in taken_kind:
        reason, message = "KindConflict", f'"{kind}" is already in use'
    elif list_kind in taken_kind:
        reason, message = "ListKindConflict", f'"{list_kind}" is already in use'
    else:
        out = {"plural": plural, "singular": singular or kind.lower(), "kind": kind}
        out["listKind"] = list_kind
        for key in ("shortNames", "categories"):
            if names.get(key):
                out[key] = list(names[key])
    return out, reason, message


def set_condition(status: Obj, type_: str, value: str, reason: str, message: str, now: str) -> None:
    """SetCRDCondition: the transition time changes only with the status."""
    conds = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != value:
                c["lastTransitionTime"] = now
            c.update({"status": value, "reason": reason, "message": message})
            break
    else:
        conds.append(
            {
                "type": type_,
                "status": value,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        )
    status["conditions"] = conds


# ----------------------------------------------------------------------- serving

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(v: str) -> tuple[int, int, int, str]:
    """Sort key, smallest first: GA, then beta, then alpha, higher numbers first, then
    any other name alphabetically (apimachinery version.CompareKubeAwareVersionStrings)."""
    m = _VERSION.match(v)
    if m is None:
        return (3, 0, 0, v)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), v)


def served(crd: Obj) -> list[Resource]:
    """The resources an Established CRD serves, one per served version, in priority
    order; none before it is Established (customresource_handler.go serves only those)."""
    if not condition(crd, "Established"):
        return []
    spec = crd.get("spec") or {}
    acc: Obj = _d(crd, "status", "acceptedNames") or {}
    if not acc.get("plural") or not acc.get("kind"):
        return []
    terminating = bool(_d(crd, "metadata", "deletionTimestamp"))
    out = []
    versions = [v for v in spec.get("versions") or () if isinstance(v, dict) and v.get("served")]
    versions.sort(key=lambda v: version_priority(str(v.get("name"))))
    for v in versions:
        subs = v.get("subresources") or {}
        sub = tuple(s for s in ("scale", "status") if isinstance(subs.get(s), dict))
        info = CustomInfo(
            crd=str(_d(crd, "metadata", "name")),
            singular=str(acc.get("singular") or acc["kind"].lower()),
            schema=_d(v, "schema", "openAPIV3Schema") or {},
            columns=tuple(
                c for c in v.get("additionalPrinterColumns") or () if isinstance(c, dict)
            ),
            scale=subs.get("scale") if isinstance(subs.get("scale"), dict) else None,
            storage=bool(v.get("storage")),
            terminating=terminating,
        )
        out.append(
            Resource(
                str(spec.get("group")),
                str(v.get("name")),
                str(acc["kind"]),
                str(acc["plural"]),
                spec.get("scope") == "Namespaced",
                tuple(acc.get("shortNames") or ()),
                tuple(acc.get("categories") or ()),
                VERBS,
                sub,
                custom=info,
            )
        )
    return out


def apply_defaults(crd: Obj) -> None:
    """SetDefaults_CustomResourceDefinition (v1 defaults.go): singular and listKind from
    the kind, conversion strategy None."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})
