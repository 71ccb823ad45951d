"""Checks on a PodSpec (a Pod's ``spec`` or a workload's ``spec.template.spec``).

Mirrors k8s.io/kubernetes pkg/apis/core/validation/validation.go: ValidatePodSpec,
validateContainers, validateContainerPorts, validateProbe, validateHTTPGetAction,
ValidatePortNumOrName, validateRestartPolicy, validateDNSPolicy, validatePullPolicy,
ValidateTolerations, ValidatePodSecurityContext, ValidateSecurityContext,
ValidateResourceRequirements (quantities parsed as apimachinery's
ParseQuantity: a malformed one is the decoder's error, before validation). Port names
must be unique within a container (an error there); a name repeated in two containers of
one pod is only a warning on the server (pkg/api/pod/warnings.go), and so it is here.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from podnet.manifests import names
from podnet.manifests.check_meta import check_enum, check_labels, unsupported
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext
from podnet.model.objects import PROTOCOLS
from podnet.model.quantity import parse_quantity

# In the order kube-apiserver lists them in its "supported values".
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")  # sets.List: sorted
SORTED_PROTOCOLS = tuple(sorted(PROTOCOLS))  # supportedPortProtocols, sets.List: sorted
NEGATIVE = "must be greater than or equal to 0"  # apimachinery IsNegativeErrorMsg
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
PROBE_TIMINGS = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
)


def check_pod_spec(ctx: DocContext, path: Path, spec: Any) -> None:
    if not isinstance(spec, dict):
        ctx.error(path, "Required value: a pod spec is required")
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        ctx.error((*path, "containers"), "Required value: at least one container")
    seen: set[str] = set()
    pod_port_names: dict[str, str] = {}
    for group in ("initContainers", "containers"):
        items = spec.get(group)
        if not isinstance(items, list):
            continue
        for i, c in enumerate(items):
            if isinstance(c, dict):
                cpath = (*path, group, i)
                _check_container(ctx, cpath, c, seen)
                _warn_shared_port_names(ctx, cpath, c, pod_port_names)
    check_enum(ctx, (*path, "restartPolicy"), spec.get("restartPolicy"), RESTART_POLICIES)
    check_enum(ctx, (*path, "dnsPolicy"), spec.get("dnsPolicy"), DNS_POLICIES)
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        ctx.error(
            (*path, "dnsConfig"),
            "Required value: must provide `dnsConfig` when `dnsPolicy` is None",
        )
    for fld in ("hostname", "subdomain"):
        value = spec.get(fld)
        if isinstance(value, str) and value and (msg := names.dns1123_label(value)):
            ctx.error((*path, fld), f"Invalid value {value!r}: {msg}")
    check_labels(ctx, (*path, "nodeSelector"), spec.get("nodeSelector"))
    _check_tolerations(ctx, (*path, "tolerations"), spec.get("tolerations"))
    _check_pod_security(ctx, (*path, "securityContext"), spec.get("securityContext"))


ID_RANGE = "must be between 0 and 2147483647, inclusive"  # IsValidUserID, IsValidGroupID
FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")  # sets.List: sorted


def _check_id(ctx: DocContext, path: Path, value: Any) -> None:
    if type(value) is int and not 0 <= value <= 2**31 - 1:
        ctx.error(path, f"Invalid value: {value}: {ID_RANGE}")


def _check_pod_security(ctx: DocContext, path: Path, sc: Any) -> None:
    """ValidatePodSecurityContext: user and group ids in range, fsGroupChangePolicy."""
    if not isinstance(sc, dict):
        return
    for fld in ("runAsUser", "runAsGroup", "fsGroup"):
        _check_id(ctx, (*path, fld), sc.get(fld))
    groups = sc.get("supplementalGroups")
    for i, gid in enumerate(groups if isinstance(groups, list) else ()):
        _check_id(ctx, (*path, "supplementalGroups", i), gid)
    policy = sc.get("fsGroupChangePolicy")
    check_enum(ctx, (*path, "fsGroupChangePolicy"), policy, FS_GROUP_CHANGE_POLICIES)


def _check_container_security(ctx: DocContext, path: Path, sc: Any) -> None:
    """ValidateSecurityContext: ids in range; no privilege escalation refused to a
    privileged container or one adding CAP_SYS_ADMIN (both on the context's path)."""
    if not isinstance(sc, dict):
        return
    for fld in ("runAsUser", "runAsGroup"):
        _check_id(ctx, (*path, fld), sc.get(fld))
    if sc.get("allowPrivilegeEscalation") is not False:
        return
    shown = json.dumps(sc, separators=(",", ":"))
    if sc.get("privileged") is True:
        ctx.error(
            path,
            f"Invalid value: {shown}: cannot set `allowPrivilegeEscalation` to false and "
            "`privileged` to true",
        )
    caps = sc.get("capabilities")
    added = caps.get("add") if isinstance(caps, dict) else None
    if isinstance(added, list) and "CAP_SYS_ADMIN" in added:
        ctx.error(
            path,
            f"Invalid value: {shown}: cannot set `allowPrivilegeEscalation` to false and "
            "`capabilities.Add` CAP_SYS_ADMIN",
        )


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _check_tolerations(ctx: DocContext, path: Path, tolerations: Any) -> None:
    """ValidateTolerations: the key a label name; an empty key only with Exists (which
    matches every taint); tolerationSeconds only with NoExecute; Equal's value a label
    value and Exists without one (both reported on ``operator``, as upstream does); the
    effect one of the taint effects."""
    if not isinstance(tolerations, list):
        return
    for i, t in enumerate(tolerations):
        if not isinstance(t, dict):
            continue
        tpath = (*path, i)
        key, op = t.get("key") or "", t.get("operator") or ""
        value, effect = t.get("value") or "", t.get("effect") or ""
        if not all(isinstance(v, str) for v in (key, op, value, effect)):
            continue  # the schema's to report
        if key and (msg := names.qualified_name(key)) is not None:
            ctx.error((*tpath, "key"), f"Invalid value: {json.dumps(key)}: {msg}")
        if not key and op != "Exists":
            ctx.error(
                (*tpath, "operator"),
                f"Invalid value: {json.dumps(op)}: operator must be Exists when `key` is "
                'empty, which means "match all values and all keys"',
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            ctx.error(
                (*tpath, "effect"),
                f"Invalid value: {json.dumps(effect)}: effect must be 'NoExecute' when "
                "`tolerationSeconds` is set",
            )
        if op in ("Equal", ""):
            if (msg := names.label_value(value)) is not None:
                ctx.error((*tpath, "operator"), f"Invalid value: {json.dumps(value)}: {msg}")
        elif op == "Exists":
            if value:
                shown = json.dumps(t, separators=(",", ":"))
                ctx.error(
                    (*tpath, "operator"),
                    f"Invalid value: {shown}: value must be empty when `operator` is 'Exists'",
                )
        else:
            ctx.error((*tpath, "operator"), unsupported(op, ("Equal", "Exists")))
        check_enum(ctx, (*tpath, "effect"), effect, TAINT_EFFECTS)


def _check_container(ctx: DocContext, path: Path, c: dict[str, Any], seen: set[str]) -> None:
    name = c.get("name")
    if isinstance(name, str):
        if (msg := names.dns1123_label(name)) is not None:
            ctx.error((*path, "name"), f"Invalid value {name!r}: {msg}")
        elif name in seen:
            ctx.error((*path, "name"), f"Duplicate value {name!r}: container names must be unique")
        seen.add(name)
    if not c.get("image"):
        ctx.error((*path, "image"), "Required value: a container image is required")
    check_enum(ctx, (*path, "imagePullPolicy"), c.get("imagePullPolicy"), PULL_POLICIES)
    _check_container_security(ctx, (*path, "securityContext"), c.get("securityContext"))
    _check_ports(ctx, (*path, "ports"), c.get("ports"))
    if isinstance(c.get("resources"), dict):
        _check_resources(ctx, (*path, "resources"), c["resources"])
    for i, env in enumerate(c.get("env") or []):
        env_name = env.get("name") if isinstance(env, dict) else None
        if isinstance(env_name, str) and (not env_name or "=" in env_name):
            ctx.error(
                (*path, "env", i, "name"),
                "Invalid value: an environment variable name must be non-empty "
                "and must not contain '='",
            )
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            _check_probe(ctx, (*path, probe), c[probe])
            _check_probe_kind(ctx, (*path, probe), probe, c[probe])


def _check_probe_kind(ctx: DocContext, path: Path, kind: str, probe: dict[str, Any]) -> None:
    """validation.go validateLivenessProbe / validateStartupProbe (successThreshold must
    be 1), validateReadinessProbe (no terminationGracePeriodSeconds), validateProbe
    (that grace > 0)."""
    success = probe.get("successThreshold")
    if kind != "readinessProbe" and isinstance(success, int) and success not in (0, 1):
        ctx.error((*path, "successThreshold"), f"Invalid value: {success}: must be 1")
    grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and kind == "readinessProbe":
        ctx.error(
            (*path, "terminationGracePeriodSeconds"),
            f"Invalid value: {grace}: must not be set for readinessProbes",
        )
    elif isinstance(grace, int) and grace <= 0:
        ctx.error(
            (*path, "terminationGracePeriodSeconds"),
            f"Invalid value: {grace}: must be greater than 0",
        )


def _check_ports(ctx: DocContext, path: Path, ports: Any) -> None:
    if not isinstance(ports, list):
        return
    port_names: set[str] = set()
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            continue
        ppath = (*path, i)
        name = p.get("name")
        if isinstance(name, str) and name:
            if (msg := names.port_name(name)) is not None:
                ctx.error((*ppath, "name"), f"Invalid value {name!r}: {msg}")
            elif name in port_names:
                ctx.error((*ppath, "name"), f"Duplicate value {name!r}: port names must be unique")
            port_names.add(name)
        for fld in ("containerPort", "hostPort"):
            num = p.get(fld)
            if (
                isinstance(num, int)
                and not (fld == "hostPort" and num == 0)
                and (msg := names.port_number(num)) is not None
            ):
                ctx.error((*ppath, fld), f"Invalid value {num}: {msg}")
        check_protocol(ctx, (*ppath, "protocol"), p.get("protocol"))


def _check_resources(ctx: DocContext, path: Path, resources: dict[str, Any]) -> None:
    """Each quantity parses and is not negative; no request exceeds its limit
    (ValidateResourceRequirements, ValidateNonnegativeQuantity)."""
    values: dict[str, dict[str, Fraction]] = {}
    for group in ("requests", "limits"):
        items = resources.get(group)
        values[group] = {}
        for name, raw in (items or {}).items() if isinstance(items, dict) else ():
            qpath = (*path, group, name)
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                continue  # the schema's to report
            try:
                value = parse_quantity(str(raw))
            except ValueError as e:
                ctx.error(qpath, f"Invalid value: {json.dumps(str(raw))}: {e}")
                continue
            if value < 0:
                ctx.error(qpath, f"Invalid value: {json.dumps(str(raw))}: {NEGATIVE}")
                continue
            values[group][name] = value
    limits = resources.get("limits") or {}
    for name, value in values["requests"].items():
        limit = values["limits"].get(name)
        if limit is not None and value > limit:
            ctx.error(
                (*path, "requests", name),
                f"Invalid value: {json.dumps(str(resources['requests'][name]))}: must be "
                f"less than or equal to {name} limit of {limits[name]}",
            )


def _warn_shared_port_names(
    ctx: DocContext, path: Path, c: dict[str, Any], owners: dict[str, str]
) -> None:
    cname = str(c.get("name"))
    for i, p in enumerate(c.get("ports") or []):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            continue
        first = owners.setdefault(p["name"], cname)
        if first != cname:
            ctx.warn(
                (*path, "ports", i, "name"),
                f"duplicate port name {p['name']!r} with container {first!r}; services "
                f"and probes that select ports by name will use {first!r}",
            )


def _check_probe(ctx: DocContext, path: Path, probe: dict[str, Any]) -> None:
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    if len(handlers) != 1:
        what = "must specify a handler type" if not handlers else "may not specify more than 1"
        ctx.error(path, f"Invalid value: {what} (one of {', '.join(PROBE_HANDLERS)})")
    for fld in PROBE_TIMINGS:
        value = probe.get(fld)
        if isinstance(value, int) and value < 0:
            ctx.error((*path, fld), f"Invalid value {value}: must be greater than or equal to 0")
    # validateGRPCAction: ValidatePortNumOrName of the (integer) port, as the others
    for handler in ("httpGet", "tcpSocket", "grpc"):
        action = probe.get(handler)
        if isinstance(action, dict):
            check_port_num_or_name(ctx, (*path, handler, "port"), action.get("port"))


def check_protocol(ctx: DocContext, path: Path, protocol: Any) -> None:
    check_enum(ctx, path, protocol, SORTED_PROTOCOLS)


def check_port_num_or_name(ctx: DocContext, path: Path, port: Any) -> None:
    """ValidatePortNumOrName: 1-65535, or an IANA_SVC_NAME."""
    if isinstance(port, bool):
        ctx.error(path, f"Invalid value {port!r}: must be a port number or name")
    elif isinstance(port, int):
        if (msg := names.port_number(port)) is not None:
            ctx.error(path, f"Invalid value {port}: {msg}")
    elif isinstance(port, str) and (msg := names.port_name(port)) is not None:
        ctx.error(path, f"Invalid value {port!r}: {msg}")
