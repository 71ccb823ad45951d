"""Checks on a Service spec that the OpenAPI schema cannot express.

Mirrors k8s.io/kubernetes pkg/apis/core/validation/validation.go ValidateService /
validateServicePort: ports required unless headless or ExternalName, a name on every
port of a multi-port Service (DNS-1123 label, unique), unique port+protocol pairs,
targetPort a number or IANA_SVC_NAME, clusterIP an IP or ``None``, the enums
(type, sessionAffinity, externalTrafficPolicy only on externally-accessible Services,
internalTrafficPolicy). The NodePort range (30000-32767) is the API server's default
``--service-node-port-range``. A requested clusterIP must lie in the service range and
not be one the cluster already holds (10.96.0.1 for ``default/kubernetes``, 10.96.0.10
for ``kube-system/kube-dns``): the allocator's errors (pkg/registry/core/service/
ipallocator: ErrNotInRange, ErrAllocated), reported here where the line is known.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from podnet.manifests import names
from podnet.manifests.check_meta import check_enum, check_service_selector
from podnet.manifests.check_pod import check_port_num_or_name, check_protocol
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext
from podnet.model.cluster import DNS_SERVICE_IP, KUBERNETES_SERVICE_IP, SERVICE_CIDR

# kube-apiserver lists these with sets.List, so sorted.
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
# Addresses the cluster allocates itself, and the one Service each belongs to.
RESERVED = {
    KUBERNETES_SERVICE_IP: ("default", "kubernetes"),
    DNS_SERVICE_IP: ("kube-system", "kube-dns"),
}
ERR_ALLOCATED = "provided IP is already allocated"  # ipallocator ErrAllocated
ERR_RANGE = f"provided IP is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"
NODE_PORT_RANGE = (30000, 32767)


def check_service_spec(ctx: DocContext, spec: Any) -> None:
    path: Path = ("spec",)
    if not isinstance(spec, dict):
        spec = {}
    stype = spec.get("type") or "ClusterIP"
    check_enum(ctx, (*path, "type"), stype, SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP")
    headless = cluster_ip == "None"
    if (
        isinstance(cluster_ip, str)
        and cluster_ip not in ("", "None")
        and (msg := names.ip_address(cluster_ip)) is not None
    ):
        ctx.error((*path, "clusterIP"), f"Invalid value {cluster_ip!r}: {msg} or 'None'")
    elif isinstance(cluster_ip, str) and cluster_ip not in ("", "None"):
        _check_cluster_ip(ctx, cluster_ip)
    if headless and stype != "ClusterIP":
        ctx.error(
            (*path, "clusterIP"), f"Invalid value 'None': may not be set when type is {stype!r}"
        )
    if stype == "ExternalName":
        _check_external_name(ctx, path, spec)
    ports = spec.get("ports")
    if not isinstance(ports, list):
        ports = []
    if not ports and not headless and stype != "ExternalName":
        ctx.error((*path, "ports"), "Required value: a Service needs at least one port")
    _check_ports(ctx, (*path, "ports"), ports, stype)
    check_service_selector(ctx, (*path, "selector"), spec.get("selector"))
    check_enum(ctx, (*path, "sessionAffinity"), spec.get("sessionAffinity"), AFFINITIES)
    _check_traffic_policies(ctx, path, spec, stype)
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
        "timeoutSeconds"
    )
    if isinstance(timeout, int) and not 0 < timeout <= 86400:
        ctx.error(
            (*path, "sessionAffinityConfig", "clientIP", "timeoutSeconds"),
            f"Invalid value {timeout}: must be greater than 0 and less than 86400",
        )


def _check_cluster_ip(ctx: DocContext, ip: str) -> None:
    """The allocator's checks on a requested address (ipallocator Allocate): in range,
    not the network or broadcast address, not held by the cluster's own Services."""
    net = ipaddress.ip_network(SERVICE_CIDR)
    addr = ipaddress.ip_address(ip)
    path: Path = ("spec", "clusterIP")
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        ctx.error(path, f"Invalid value: {json.dumps(ip)}: {ERR_RANGE}")
        return
    owner = RESERVED.get(str(addr))
    meta = ctx.doc.get("metadata") or {}
    key = (meta.get("namespace") or "default", meta.get("name"))
    if owner is not None and owner != key:
        ctx.error(
            path,
            f"Invalid value: {json.dumps(ip)}: {ERR_ALLOCATED} (to Service/{'/'.join(owner)}, "
            f"which podnet creates as a cluster does; leave clusterIP unset to get a free one)",
        )
    for reserved, holder in RESERVED.items():
        if holder == key and str(addr) != reserved:
            ctx.error(
                path,
                f"Invalid value: {json.dumps(ip)}: Service/{'/'.join(key)} has clusterIP "
                f"{reserved} in every podnet cluster (leave clusterIP unset)",
            )


def _check_traffic_policies(ctx: DocContext, path: Path, spec: dict[str, Any], stype: str) -> None:
    """validateServiceExternalTrafficPolicy, validateServiceInternalTrafficPolicy."""
    etp = spec.get("externalTrafficPolicy")
    accessible = stype in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if isinstance(etp, str) and etp and not accessible:
        ctx.error(
            (*path, "externalTrafficPolicy"),
            f"Invalid value: {json.dumps(etp)}: may only be set for externally-accessible services",
        )
    else:
        check_enum(ctx, (*path, "externalTrafficPolicy"), etp, TRAFFIC_POLICIES)
    itp = spec.get("internalTrafficPolicy")
    check_enum(ctx, (*path, "internalTrafficPolicy"), itp, TRAFFIC_POLICIES)


def _check_external_name(ctx: DocContext, path: Path, spec: dict[str, Any]) -> None:
    if spec.get("clusterIP"):
        ctx.error((*path, "clusterIP"), "Forbidden: may not be set for ExternalName services")
    ext = spec.get("externalName")
    if not ext:
        ctx.error((*path, "externalName"), "Required value: needed for type ExternalName")
    elif isinstance(ext, str) and (msg := names.dns1123_subdomain(ext.rstrip("."))):
        ctx.error((*path, "externalName"), f"Invalid value {ext!r}: {msg}")


def _check_ports(ctx: DocContext, path: Path, ports: list[Any], stype: str) -> None:
    port_names: set[str] = set()
    pairs: set[tuple[int, str]] = set()
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            continue
        ppath = (*path, i)
        name = p.get("name")
        if len(ports) > 1 and not name:
            ctx.error(
                (*ppath, "name"), "Required value: every port of a multi-port Service needs a name"
            )
        if isinstance(name, str) and name:
            if (msg := names.dns1123_label(name)) is not None:
                ctx.error((*ppath, "name"), f"Invalid value {name!r}: {msg}")
            elif name in port_names:
                ctx.error((*ppath, "name"), f"Duplicate value {name!r}: port names must be unique")
            port_names.add(name)
        check_protocol(ctx, (*ppath, "protocol"), p.get("protocol"))
        port = p.get("port")
        if isinstance(port, int):
            if (msg := names.port_number(port)) is not None:
                ctx.error((*ppath, "port"), f"Invalid value {port}: {msg}")
            pair = (port, str(p.get("protocol") or "TCP"))
            if pair in pairs:
                ctx.error(ppath, f"Duplicate value: port {pair[0]}/{pair[1]} is declared twice")
            pairs.add(pair)
        target = p.get("targetPort")
        if target not in (0, ""):  # 0 and "" are defaulted to port (defaults.go)
            check_port_num_or_name(ctx, (*ppath, "targetPort"), target)
        _check_node_port(ctx, (*ppath, "nodePort"), p.get("nodePort"), stype)


def _check_node_port(ctx: DocContext, path: Path, node_port: Any, stype: str) -> None:
    if not isinstance(node_port, int) or node_port == 0:
        return
    if stype not in ("NodePort", "LoadBalancer"):
        ctx.error(path, f"Forbidden: may not be used when `type` is {stype!r}")
    elif not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
        ctx.error(
            path,
            f"Invalid value {node_port}: provided port is not in the valid range. "
            f"The range of valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}",
        )
