"""Validation of PersistentVolumeClaims, PersistentVolumes and StorageClasses beyond
their OpenAPI schemas, with upstream's field paths and messages.

From pkg/apis/core/validation/validation.go (``ValidatePersistentVolumeClaimSpec``,
``ValidatePersistentVolumeClaimUpdate``, ``ValidatePersistentVolumeSpec``,
``ValidatePersistentVolumeUpdate``) and pkg/apis/storage/validation/validation.go
(``ValidateStorageClass``, ``ValidateStorageClassUpdate``), with the feature gates of a
1.3x cluster: VolumeAttributesClass and RecoverVolumeExpansionFailure on (GA),
MutablePVNodeAffinity off (alpha). :mod:`podnet.apiserver.validation` calls these once
the schema and metadata checks pass, so every value has its schema type here.

Left out: label selectors and node selector terms beyond "at least one", the volume
sources other than hostPath, local, nfs and csi beyond counting them, allowedTopologies.
The spec diffs upstream appends to its immutability messages (go-cmp ``cmp.Diff`` of the
Go structs) are given in the same shape with JSON values.
"""

from __future__ import annotations

import json
import posixpath
from fractions import Fraction
from typing import Any

from podnet.apiserver.admission.storage import BETA_CLASS_ANNOTATION
from podnet.apiserver.resources import Resource
from podnet.manifests.names import dns1123_subdomain, qualified_name
from podnet.model.quantity import parse_quantity

Obj = dict[str, Any]
Cause = tuple[str, str, str]  # reason, field, message

CLAIM = ("", "PersistentVolumeClaim")
VOLUME = ("", "PersistentVolume")
CLASS = ("storage.k8s.io", "StorageClass")
KINDS = frozenset({CLAIM, VOLUME, CLASS})

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
SC_RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
# core.PersistentVolumeSource, in the order ValidatePersistentVolumeSpec checks them
VOLUME_SOURCES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
)
# the path a second source's error names (upstream spells cephfs's cephFS)
_SOURCE_PATH = {"cephfs": "cephFS"}
MAX_PARAMETERS = 512  # maxProvisionerParameterLen
MAX_PARAMETERS_SIZE = 256 * 1024  # maxProvisionerParameterSize


# -- field.Error constructors, as apimachinery prints them -------------------------------


def _required(path: str, detail: str = "") -> Cause:
    return "FieldValueRequired", path, "Required value" + (f": {detail}" if detail else "")


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return "FieldValueInvalid", path, f"Invalid value: {_value(value)}: {detail}"


def _forbidden(path: str, detail: str) -> Cause:
    return "FieldValueForbidden", path, f"Forbidden: {detail}"


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    allowed = ", ".join(json.dumps(s) for s in supported)
    return (
        "FieldValueNotSupported",
        path,
        f"Unsupported value: {_value(value)}: supported values: {allowed}",
    )


def _too_long(path: str, limit: int) -> Cause:
    return "FieldValueTooLong", path, f"Too long: must have at most {limit} bytes"


def _value(value: Any) -> str:
    """A bad value as field.Error shows it: strings quoted, numbers bare, nil null;
    maps and structs (Go's ``%#v`` of the internal type) as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _immutable(path: str, value: Any) -> Cause:
    return _invalid(path, value, "field is immutable")


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _diff(type_name: str, old: Obj, new: Obj) -> str:
    """The changed fields of two specs in ``cmp.Diff``'s shape: ``-`` the old value,
    ``+`` the new one, fields by their Go names."""
    lines = [f"  {type_name}{{"]
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key) == new.get(key):
            continue
        name = key[:1].upper() + key[1:]
        for sign, side in (("-", old), ("+", new)):
            if key in side:
                lines.append(f"{sign} \t{name}: {_value(side[key])},")
    lines.append("  }")
    return "\n".join(lines)


# -- quantities ---------------------------------------------------------------------------


def _quantity(raw: Any, path: str, causes: list[Cause]) -> Fraction | None:
    """The value of a quantity (a string or a JSON number), or None after recording
    why it is none (decoding fails upstream; podnet reports it on the field, as it
    does a container's resources)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        causes.append(_invalid(path, raw, "must be a quantity"))
        return None
    try:
        return parse_quantity(str(raw))
    except ValueError as e:
        causes.append(_invalid(path, str(raw), str(e)))
        return None


def _positive(raw: Any, path: str, causes: list[Cause]) -> Fraction | None:
    """ValidatePositiveQuantityValue: greater than zero."""
    value = _quantity(raw, path, causes)
    if value is not None and value <= 0:
        causes.append(_invalid(path, str(raw), "must be greater than zero"))
        return None
    return value


def _storage(obj: Obj, *path: str) -> Fraction:
    """A stored object's storage quantity (already validated), 0 when absent."""
    node: Any = obj
    for p in path:
        node = _dict(node).get(p)
    try:
        return parse_quantity(str(node)) if node is not None else Fraction(0)
    except ValueError:
        return Fraction(0)


# -- shared pieces --------------------------------------------------------------------------


def _access_modes(modes: Any, path: str, required_detail: str) -> list[Cause]:
    causes: list[Cause] = []
    modes = modes if isinstance(modes, list) else []
    if not modes:
        causes.append(_required(path, required_detail))
    once_pod = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            causes.append(_not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            once_pod = True
        else:
            other = True
    if once_pod and other:
        causes.append(_forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _class_name(value: Any, path: str) -> list[Cause]:
    """ValidateClassName (a DNS subdomain) of a non-empty class name."""
    if not isinstance(value, str) or not value:
        return []
    msg = dns1123_subdomain(value)
    return [] if msg is None else [_invalid(path, value, msg)]


def _no_backsteps(value: str, path: str) -> list[Cause]:
    """validatePathNoBacksteps: no ``..`` element."""
    if ".." in value.split("/"):
        return [_invalid(path, value, "must not contain '..'")]
    return []


# -- PersistentVolumeClaim ------------------------------------------------------------------


def claim_spec_causes(spec: Obj, path: str = "spec") -> list[Cause]:
    """ValidatePersistentVolumeClaimSpec (a claim's spec, or a volumeClaimTemplate's at
    ``path``)."""
    causes = _access_modes(
        spec.get("accessModes"), f"{path}.accessModes", "at least 1 access mode is required"
    )
    at = f"{path}.resources[storage]"
    requests = _dict(_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        causes.append(_required(at))
    else:
        _positive(requests["storage"], at, causes)
    causes += _class_name(spec.get("storageClassName"), f"{path}.storageClassName")
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(_not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    for key in ("dataSource", "dataSourceRef"):
        ref = spec.get(key)
        if isinstance(ref, dict):
            causes += _data_source(ref, f"{path}.{key}")
    causes += _class_name(
        spec.get("volumeAttributesClassName"), f"{path}.volumeAttributesClassName"
    )
    return causes


def _data_source(ref: Obj, path: str) -> list[Cause]:
    """validateDataSource / validateDataSourceRef: name and kind, and only claims in
    the core group."""
    causes: list[Cause] = []
    if not ref.get("name"):
        causes.append(_required(f"{path}.name"))
    if not ref.get("kind"):
        causes.append(_required(f"{path}.kind"))
    group = ref.get("apiGroup") or ""
    if not group and ref.get("kind") != "PersistentVolumeClaim":
        causes.append(
            _invalid(
                path,
                ref.get("kind") or "",
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            )
        )
    elif group and (msg := dns1123_subdomain(str(group))) is not None:
        causes.append(_invalid(f"{path}.apiGroup", group, msg))
    return causes


def claim_update_causes(old: Obj, new: Obj) -> list[Cause]:
    """ValidatePersistentVolumeClaimUpdate: the spec is immutable but for a volumeName
    set once (the binder's), a storageClassName set where there was none (or moved from
    the beta annotation), and, for a bound claim, resources.requests.storage (grown, or
    shrunk to no less than status.capacity: RecoverVolumeExpansionFailure) and
    volumeAttributesClassName."""
    old_spec, new_spec = _dict(old.get("spec")), _dict(new.get("spec"))
    old_ann = _dict(_dict(old.get("metadata")).get("annotations"))
    new_ann = _dict(_dict(new.get("metadata")).get("annotations"))
    o, n = dict(old_spec), dict(new_spec)
    causes: list[Cause] = []
    if not old_spec.get("volumeName"):  # "volumeName changes are allowed once"
        _set(o, "volumeName", n)
    old_class, new_class = old_spec.get("storageClassName"), new_spec.get("storageClassName")
    beta = BETA_CLASS_ANNOTATION
    if (
        beta in old_ann
        and old_class is None
        and new_class == old_ann[beta]
        and new_ann.get(beta, old_ann[beta]) == old_ann[beta]
    ):  # validateStorageClassUpgradeFromAnnotation
        n.pop("storageClassName", None)
    else:
        if new_ann.get(beta, "") != old_ann.get(beta, ""):  # ValidateImmutableAnnotation
            causes.append(_immutable(f"metadata.annotations.{beta}", new_ann.get(beta, "")))
        if (
            new_class is not None
            and old_class is None
            and (beta not in old_ann or new_class == old_ann[beta])
        ):  # validateStorageClassUpgradeFromNil
            n.pop("storageClassName", None)
    status = _dict(new.get("status"))  # the stored one: a PUT's status is ignored
    resources = _dict(n.get("resources"))
    if status.get("phase") == "Bound" and "requests" in resources:
        requests = dict(_dict(resources.get("requests")))
        _set(requests, "storage", _dict(_dict(old_spec.get("resources")).get("requests")))
        n["resources"] = {**resources, "requests": requests}
    _set(n, "volumeAttributesClassName", o)
    if n != o:
        causes.append(
            _forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims\n"
                + _diff("core.PersistentVolumeClaimSpec", o, n),
            )
        )
    old_size = _storage(old_spec, "resources", "requests", "storage")
    new_size = _storage(new_spec, "resources", "requests", "storage")
    if new_size < old_size and new_size <= _storage(old, "status", "capacity", "storage"):
        causes.append(
            _forbidden(
                "spec.resources.requests.storage", "field can not be less than status.capacity"
            )
        )
    if old_spec.get("volumeMode") != new_spec.get("volumeMode"):
        causes.append(_immutable("volumeMode", new_spec.get("volumeMode")))
    causes += _attributes_class_update(old_spec, new_spec, claim=True)
    return causes


def _set(target: Obj, key: str, source: Obj) -> None:
    """``target[key] = source[key]``, absent when absent (a Go nil)."""
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


def _attributes_class_update(old_spec: Obj, new_spec: Obj, *, claim: bool) -> list[Cause]:
    was, now = old_spec.get("volumeAttributesClassName"), new_spec.get("volumeAttributesClassName")
    if was is None or was == now:
        return []
    path = "spec.volumeAttributesClassName"
    if now is None:
        return [_forbidden(path, "update from non-nil value to nil is forbidden")]
    if claim and now == "":
        return [_forbidden(path, "update from non-nil value to an empty string is forbidden")]
    return []


# -- PersistentVolume ------------------------------------------------------------------------


def volume_spec_causes(spec: Obj, path: str = "spec") -> list[Cause]:
    """ValidatePersistentVolumeSpec of a PersistentVolume (not an inline one)."""
    causes = _access_modes(spec.get("accessModes"), f"{path}.accessModes", "")
    capacity = _dict(spec.get("capacity"))
    if not capacity:
        causes.append(_required(f"{path}.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        causes.append(_not_supported(f"{path}.capacity", capacity, ("storage",)))
    for name, raw in capacity.items():
        at = f"{path}.capacity[{name}]"
        value = _quantity(raw, at, causes)
        if value is not None and value < 0:  # validateBasicResource
            causes.append(_invalid(at, int(value), "must be a valid resource quantity"))
        if value is not None and value <= 0:
            causes.append(_invalid(at, str(raw), "must be greater than zero"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in PV_RECLAIM_POLICIES:
        causes.append(
            _not_supported(f"{path}.persistentVolumeReclaimPolicy", policy, PV_RECLAIM_POLICIES)
        )
    affinity = spec.get("nodeAffinity")
    if isinstance(affinity, dict):  # validateVolumeNodeAffinity
        required = affinity.get("required")
        if not isinstance(required, dict):
            causes.append(
                _required(f"{path}.nodeAffinity.required", "must specify required node constraints")
            )
        elif not required.get("nodeSelectorTerms"):
            causes.append(
                _required(
                    f"{path}.nodeAffinity.required.nodeSelectorTerms",
                    "must have at least one node selector term",
                )
            )
    found = 0
    for key in VOLUME_SOURCES:
        source = spec.get(key)
        if source is None:
            continue
        if found and key != "flexVolume":  # flexVolume is counted without the check
            causes.append(
                _forbidden(
                    f"{path}.{_SOURCE_PATH.get(key, key)}",
                    "may not specify more than 1 volume type",
                )
            )
            continue
        found += 1
        causes += _source_causes(key, _dict(source), f"{path}.{key}")
        if key == "local" and not isinstance(affinity, dict):
            causes.append(_required(f"{path}.nodeAffinity", "Local volume requires node affinity"))
    if not found:
        causes.append(_required(path, "must specify a volume type"))
    host = _dict(spec.get("hostPath"))
    if host.get("path") and posixpath.normpath(str(host["path"])) == "/" and policy == "Recycle":
        causes.append(
            _forbidden(
                f"{path}.persistentVolumeReclaimPolicy",
                "may not be 'recycle' for a hostPath mount of '/'",
            )
        )
    causes += _class_name(spec.get("storageClassName"), f"{path}.storageClassName")
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(_not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    vac = spec.get("volumeAttributesClassName")
    if vac is not None:
        at = f"{path}.volumeAttributesClassName"
        causes += [_required(at, "an empty string is disallowed")] if vac == "" else []
        causes += _class_name(vac, at)
        if spec.get("csi") is None:
            causes.append(
                _required(f"{path}.csi", "has to be specified when using volumeAttributesClassName")
            )
    return causes


def _source_causes(key: str, source: Obj, path: str) -> list[Cause]:
    """The checks of the sources podnet can serve or that are common: hostPath
    (validateHostPathVolumeSource), local (validateLocalVolumeSource), nfs
    (validateNFSVolumeSource), csi (driver and volumeHandle required)."""
    causes: list[Cause] = []
    if key in ("hostPath", "local"):
        where = str(source.get("path") or "")
        if not where:
            return [_required(f"{path}.path")]
        causes += _no_backsteps(where, f"{path}.path")
        kind = source.get("type")
        if key == "hostPath" and kind is not None and kind not in HOST_PATH_TYPES:
            causes.append(_not_supported(f"{path}.type", kind, HOST_PATH_TYPES))
    elif key == "nfs":
        if not source.get("server"):
            causes.append(_required(f"{path}.server"))
        where = str(source.get("path") or "")
        if not where:
            causes.append(_required(f"{path}.path"))
        if not where.startswith("/"):
            causes.append(_invalid(f"{path}.path", where, "must be an absolute path"))
    elif key == "csi":
        for name in ("driver", "volumeHandle"):
            if not source.get(name):
                causes.append(_required(f"{path}.{name}"))
    return causes


def volume_update_causes(old: Obj, new: Obj) -> list[Cause]:
    """ValidatePersistentVolumeUpdate: the volume source, volumeMode and a set
    nodeAffinity are immutable (a CSI controllerExpandSecretRef may be added);
    volumeAttributesClassName may not go back to nil. claimRef, capacity, access
    modes, class and reclaim policy may change (the binder writes claimRef)."""
    old_spec, new_spec = _dict(old.get("spec")), _dict(new.get("spec"))
    o = {k: old_spec[k] for k in VOLUME_SOURCES if k in old_spec}
    n = {k: new_spec[k] for k in VOLUME_SOURCES if k in new_spec}
    old_csi, new_csi = o.get("csi"), n.get("csi")
    if (
        isinstance(old_csi, dict)
        and isinstance(new_csi, dict)
        and "controllerExpandSecretRef" not in old_csi
    ):
        n["csi"] = {k: v for k, v in new_csi.items() if k != "controllerExpandSecretRef"}
    causes: list[Cause] = []
    if o != n:
        causes.append(
            _forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation\n"
                + _diff("core.PersistentVolumeSource", o, n),
            )
        )
    if old_spec.get("volumeMode") != new_spec.get("volumeMode"):
        causes.append(_immutable("volumeMode", new_spec.get("volumeMode")))
    old_affinity = old_spec.get("nodeAffinity")
    if old_affinity is not None and old_affinity != new_spec.get("nodeAffinity"):
        causes.append(_immutable("nodeAffinity", new_spec.get("nodeAffinity")))
    causes += _attributes_class_update(old_spec, new_spec, claim=False)
    return causes


# -- StorageClass ----------------------------------------------------------------------------


def class_causes(obj: Obj) -> list[Cause]:
    """ValidateStorageClass: provisioner, parameters, reclaimPolicy, volumeBindingMode."""
    causes: list[Cause] = []
    provisioner = obj.get("provisioner")
    if not provisioner:
        causes.append(_required("provisioner"))
    elif (msg := qualified_name(str(provisioner).lower())) is not None:
        causes.append(_invalid("provisioner", str(provisioner).lower(), msg))
    params = _dict(obj.get("parameters"))
    if len(params) > MAX_PARAMETERS:
        causes.append(_too_long("parameters", MAX_PARAMETERS))
    else:
        size = 0
        for k, v in params.items():
            if not k:
                causes.append(_invalid("parameters", k, "field can not be empty."))
            size += len(k.encode()) + len(str(v).encode())
        if size > MAX_PARAMETERS_SIZE:
            causes.append(_too_long("parameters", MAX_PARAMETERS_SIZE))
    policy = obj.get("reclaimPolicy")
    if policy and policy not in SC_RECLAIM_POLICIES:
        causes.append(_not_supported("reclaimPolicy", policy, SC_RECLAIM_POLICIES))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(_required("volumeBindingMode"))
    elif mode not in BINDING_MODES:
        causes.append(_not_supported("volumeBindingMode", mode, BINDING_MODES))
    return causes


def class_update_causes(old: Obj, new: Obj) -> list[Cause]:
    """ValidateStorageClassUpdate: parameters, provisioner, reclaimPolicy and
    volumeBindingMode are fixed at creation."""
    causes: list[Cause] = []
    for key in ("parameters", "provisioner", "reclaimPolicy"):
        if old.get(key) != new.get(key):
            causes.append(_forbidden(key, f"updates to {key} are forbidden."))
    if old.get("volumeBindingMode") != new.get("volumeBindingMode"):
        causes.append(_immutable("volumeBindingMode", new.get("volumeBindingMode")))
    return causes


# -- entry points ---------------------------------------------------------------------------


# where a kind keeps its pod spec (a Pod's own, a workload's template, a CronJob's)
POD_SPEC_PATHS = {
    ("", "Pod"): ("spec",),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
TEMPLATE_PATH = ("spec", "template", "spec")


def ephemeral_causes(res: Resource, obj: Obj) -> list[Cause]:
    """validateEphemeralVolumeSource for every generic ephemeral volume of the pod spec
    a Pod, workload or CronJob carries: a volumeClaimTemplate whose spec is a valid
    claim's (ValidatePersistentVolumeClaimTemplate)."""
    parts = POD_SPEC_PATHS.get((res.group, res.kind), TEMPLATE_PATH)
    spec: Any = obj
    for part in parts:
        spec = _dict(spec).get(part)
    volumes = _dict(spec).get("volumes")
    out: list[Cause] = []
    for i, v in enumerate(volumes if isinstance(volumes, list) else ()):
        eph = _dict(v).get("ephemeral")
        if not isinstance(eph, dict):
            continue
        at = ".".join(parts) + f".volumes[{i}].ephemeral.volumeClaimTemplate"
        template = eph.get("volumeClaimTemplate")
        if not isinstance(template, dict):
            out.append(_required(at))
            continue
        out += claim_spec_causes(_dict(template.get("spec")), f"{at}.spec")
    return out


def causes(res: Resource, obj: Obj) -> list[Cause]:
    """What ``obj`` breaks (create and update alike); [] for any other kind."""
    kind = (res.group, res.kind)
    if res.custom is not None or kind not in KINDS:
        return []
    if kind == CLASS:
        return class_causes(obj)
    spec = _dict(obj.get("spec"))
    return claim_spec_causes(spec) if kind == CLAIM else volume_spec_causes(spec)


def update_causes(res: Resource, old: Obj, new: Obj) -> list[Cause]:
    """What an update of ``old`` to ``new`` may not change; [] for any other kind."""
    kind = (res.group, res.kind)
    if res.custom is not None or kind not in KINDS:
        return []
    if kind == CLAIM:
        return claim_update_causes(old, new)
    if kind == VOLUME:
        return volume_update_causes(old, new)
    return class_update_causes(old, new)
