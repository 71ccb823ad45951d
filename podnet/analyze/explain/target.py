"""Parse ``podnet explain``'s FROM and TO into pods, Services, names and ports.

Forms, following kubectl's ``TYPE/NAME`` habit:

* FROM: ``name`` (pod in ``--namespace``, default ``default``), ``ns/name``,
  ``pod/name``, ``pod/ns/name``, or a workload ``deploy/web``, ``sts/db``,
  ``ds/agent``, ``rs/x``, ``job/x``, ``cronjob/x`` (optionally ``ns/deploy/web``),
  meaning that workload's first pod by name (``db-0`` for a StatefulSet).
* TO: any FROM form, ``svc/name`` / ``svc/ns/name``, an IP, or a DNS name as a container
  would write it (``my-service``, ``my-service.shop``, ``...svc.cluster.local``);
  optionally followed by ``:PORT`` or ``:PORT/PROTO`` (PORT a number or a port name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podnet.errors import TargetError
from podnet.model.addresses import is_ip
from podnet.model.cluster import ClusterState
from podnet.model.objects import PROTOCOLS, Pod, Service

WORKLOAD_KINDS = {
    "deploy": "Deployment",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "sts": "StatefulSet",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "ds": "DaemonSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "rs": "ReplicaSet",
    "replicaset": "ReplicaSet",
    "replicasets": "ReplicaSet",
    "rc": "ReplicationController",
    "replicationcontroller": "ReplicationController",
    "replicationcontrollers": "ReplicationController",
    "job": "Job",
    "jobs": "Job",
    "cj": "CronJob",
    "cronjob": "CronJob",
    "cronjobs": "CronJob",
}
POD_KINDS = {"po", "pod", "pods"}
SERVICE_KINDS = {"svc", "service", "services"}
_PORT = re.compile(
    r"^(?P<port>[0-9]{1,5}|[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?)(/(?P<proto>[A-Za-z]+))?$"
)


@dataclass(frozen=True)
class PortSpec:
    port: int | str | None  # None: not given
    protocol: str | None  # None: not given (TCP unless the Service/pod says otherwise)


def split_port(text: str) -> tuple[str, PortSpec]:
    """``api:8080/tcp`` -> (``api``, PortSpec(8080, "TCP"))."""
    if ":" in text and text.count(":") == 1:
        head, tail = text.split(":", 1)
        m = _PORT.match(tail)
        if not m:
            raise TargetError(f"bad port {tail!r}: want PORT or PORT/PROTO (e.g. 80/TCP)")
        proto = m.group("proto")
        if proto is not None and proto.upper() not in PROTOCOLS:
            raise TargetError(f"unknown protocol {proto!r}: want one of {', '.join(PROTOCOLS)}")
        raw = m.group("port")
        port: int | str = int(raw) if raw.isdigit() else raw
        return head, PortSpec(port, proto.upper() if proto else None)
    return text, PortSpec(None, None)


def _first(pods: list[Pod]) -> Pod | None:
    return min(pods, key=lambda p: p.name) if pods else None


def find_pod(state: ClusterState, spec: str, namespace: str) -> Pod | None:
    """A pod or workload reference (see module doc); None when nothing matches."""
    parts = spec.split("/")
    if len(parts) == 1:
        return state.pod(f"{namespace}/{parts[0]}")
    if len(parts) == 2 and parts[0].lower() in POD_KINDS:
        return state.pod(f"{namespace}/{parts[1]}")
    if len(parts) == 3 and parts[0].lower() in POD_KINDS:
        return state.pod(f"{parts[1]}/{parts[2]}")
    ns, kind, name = namespace, "", ""
    if len(parts) == 2 and parts[0].lower() in WORKLOAD_KINDS:
        kind, name = WORKLOAD_KINDS[parts[0].lower()], parts[1]
    elif len(parts) == 3 and parts[1].lower() in WORKLOAD_KINDS:
        ns, kind, name = parts[0], WORKLOAD_KINDS[parts[1].lower()], parts[2]
    elif len(parts) == 2:
        return state.pod(f"{parts[0]}/{parts[1]}")
    else:
        return None
    owned = [p for p in state.pods if p.namespace == ns and p.owner == f"{kind}/{name}"]
    if not owned and kind == "Deployment":  # a Deployment's pods may name its ReplicaSet
        owned = [
            p
            for p in state.pods
            if p.namespace == ns and (p.owner or "").startswith(f"ReplicaSet/{name}-")
        ]
    return _first(owned)


def find_service(state: ClusterState, spec: str, namespace: str) -> Service | None:
    """``svc/name``, ``svc/ns/name`` or ``ns/name``; None when nothing matches."""
    parts = spec.split("/")
    if parts[0].lower() in SERVICE_KINDS:
        parts = parts[1:]
    if len(parts) == 1:
        return state.service(f"{namespace}/{parts[0]}")
    if len(parts) == 2:
        return state.service(f"{parts[0]}/{parts[1]}")
    return None


def source_pod(state: ClusterState, spec: str, namespace: str) -> Pod:
    pod = find_pod(state, spec, namespace)
    if pod is None:
        known = ", ".join(p.key for p in state.pods[:8])
        raise TargetError(f"no pod {spec!r} (namespace {namespace}); pods: {known}")
    if pod.ip is None:
        raise TargetError(f"pod {pod.key} has no IP (not scheduled)")
    return pod


def is_kind_ref(spec: str) -> bool:
    """Whether ``spec`` names an object (has a ``/``) rather than a DNS name or IP."""
    return "/" in spec and not is_ip(spec)
