"""Checks on a PodSpec (a Pod's ``spec`` or a workload's ``spec.template.spec``).

Mirrors k8s.io/kubernetes pkg/apis/core/validation/validation.go: ValidatePodSpec,
validateContainers, validateContainerPorts, validateProbe, validateHTTPGetAction,
ValidatePortNumOrName, validateRestartPolicy. Port names must be unique within a
container (an error there); a name repeated in two containers of one pod is only a
warning on the server (pkg/api/pod/warnings.go), and so it is here.
"""

from __future__ import annotations

from typing import Any

from podnet.manifests import names
from podnet.manifests.check_meta import check_labels
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext
from podnet.model.objects import PROTOCOLS

RESTART_POLICIES = ("Always", "OnFailure", "Never")
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
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in RESTART_POLICIES:
        ctx.error(
            (*path, "restartPolicy"),
            f"Unsupported value {policy!r}: supported values: " + ", ".join(RESTART_POLICIES),
        )
    for fld in ("hostname", "subdomain"):
        value = spec.get(fld)
        if isinstance(value, str) and value and (msg := names.dns1123_label(value)):
            ctx.error((*path, fld), f"Invalid value {value!r}: {msg}")
    check_labels(ctx, (*path, "nodeSelector"), spec.get("nodeSelector"))


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
    _check_ports(ctx, (*path, "ports"), c.get("ports"))
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
    for handler in ("httpGet", "tcpSocket"):
        action = probe.get(handler)
        if isinstance(action, dict):
            check_port_num_or_name(ctx, (*path, handler, "port"), action.get("port"))


def check_protocol(ctx: DocContext, path: Path, protocol: Any) -> None:
    if protocol is not None and protocol not in PROTOCOLS:
        ctx.error(
            path,
            f"Unsupported value {protocol!r}: supported values: "
            + ", ".join(f'"{p}"' for p in PROTOCOLS),
        )


def check_port_num_or_name(ctx: DocContext, path: Path, port: Any) -> None:
    """ValidatePortNumOrName: 1-65535, or an IANA_SVC_NAME."""
    if isinstance(port, bool):
        ctx.error(path, f"Invalid value {port!r}: must be a port number or name")
    elif isinstance(port, int):
        if (msg := names.port_number(port)) is not None:
            ctx.error(path, f"Invalid value {port}: {msg}")
    elif isinstance(port, str) and (msg := names.port_name(port)) is not None:
        ctx.error(path, f"Invalid value {port!r}: {msg}")
