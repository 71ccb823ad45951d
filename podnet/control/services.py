"""Service defaults, ClusterIP and NodePort allocation.

Follows the API server's service REST storage (pkg/registry/core/service/storage/
alloc.go, ipallocator, portallocator):

* a given ``spec.clusterIP`` is honoured if inside the service CIDR and free; a clash
  is an error naming both Services ("provided IP is already allocated");
  ``clusterIP: None`` (headless) and ``type: ExternalName`` get no IP;
* otherwise the API server picks at random; podnet picks the lowest free address from
  10.96.0.11 in sorted ``namespace/name`` order, so the same manifests give the same IPs;
* NodePort/LoadBalancer ports get nodePorts from 30000-32767 the same way; two ports of
  one Service with the same number and different protocols share one (alloc.go
  ``initNodePorts``), any other sharing is an error.

Errors are :class:`AllocationError`: the later Service in input order is blamed, with its
file:line, ``Kind/ns/name`` and field, in the allocator's words; a user's Service asking
for 10.96.0.1 or 10.96.0.10 is blamed, never podnet's own.

``default/kubernetes`` (10.96.0.1, reserved for the API server) and
``kube-system/kube-dns`` (10.96.0.10, kubeadm's ``clusterDNS``) are added when absent,
with the DNS pod ``kube-system/coredns-0`` behind the latter.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Sequence

from podnet.errors import AllocationError
from podnet.model.cluster import DNS_SERVICE_IP, KUBERNETES_SERVICE_IP, SERVICE_CIDR
from podnet.model.objects import Container, ContainerPort, Pod, Service, ServicePort

NODE_PORT_MIN = 30000
NODE_PORT_MAX = 32767
FIRST_DYNAMIC_IP = "10.96.0.11"
DNS_IMAGE = "podnet/dns"
KUBERNETES_KEY = "default/kubernetes"
KUBE_DNS_KEY = "kube-system/kube-dns"
RESERVED_IPS = {KUBERNETES_KEY: KUBERNETES_SERVICE_IP, KUBE_DNS_KEY: DNS_SERVICE_IP}


def kubernetes_service() -> Service:
    return Service(
        namespace="default",
        name="kubernetes",
        selector=None,
        ports=(ServicePort(port=443, target_port=6443, name="https"),),
        cluster_ip=KUBERNETES_SERVICE_IP,
        labels={"component": "apiserver", "provider": "kubernetes"},
    )


def kube_dns_service() -> Service:
    return Service(
        namespace="kube-system",
        name="kube-dns",
        selector={"k8s-app": "kube-dns"},
        ports=(
            ServicePort(port=53, target_port=53, protocol="UDP", name="dns"),
            ServicePort(port=53, target_port=53, protocol="TCP", name="dns-tcp"),
            ServicePort(port=9153, target_port=9153, protocol="TCP", name="metrics"),
        ),
        cluster_ip=DNS_SERVICE_IP,
        labels={"k8s-app": "kube-dns"},
    )


def dns_pod() -> Pod:
    return Pod(
        namespace="kube-system",
        name="coredns-0",
        labels={"k8s-app": "kube-dns"},
        containers=(
            Container(
                name="coredns",
                image=DNS_IMAGE,
                ports=(
                    ContainerPort(53, "UDP", "dns"),
                    ContainerPort(53, "TCP", "dns-tcp"),
                    ContainerPort(9153, "TCP", "metrics"),
                ),
            ),
        ),
    )


def add_defaults(
    services: Sequence[Service], pods: Sequence[Pod]
) -> tuple[tuple[Service, ...], tuple[Pod, ...]]:
    """Add the kubernetes and kube-dns Services and the DNS pod when absent."""
    svc_keys = {s.key for s in services}
    extra_svcs = [s for s in (kubernetes_service(), kube_dns_service()) if s.key not in svc_keys]
    dns = dns_pod()
    extra_pods = [] if any(p.key == dns.key for p in pods) else [dns]
    return (*services, *extra_svcs), (*pods, *extra_pods)


ERR_ALLOCATED = "provided IP is already allocated"  # ipallocator ErrAllocated
ERR_FULL = "range is full"  # ipallocator ErrFull


def _error(svc: Service, field: str | None, message: str) -> AllocationError:
    """The error names the user's object where it came from (file:line, Kind/ns/name)."""
    meta = svc.meta
    return AllocationError(
        message,
        location=meta.location if meta is not None else None,
        obj=meta.ref if meta is not None else f"Service/{svc.key}",
        field=field,
    )


def _where(svc: Service) -> str:
    if svc.meta is not None and svc.meta.location is not None:
        return f"Service/{svc.key} at {svc.meta.location}"
    return f"Service/{svc.key}"


def _check_ip(svc: Service, ip: str, net: ipaddress.IPv4Network) -> int:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise _error(
            svc, "spec.clusterIP", f"Invalid value: {json.dumps(ip)}: must be a valid IP address"
        ) from None
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise _error(
            svc,
            "spec.clusterIP",
            f"Invalid value: {json.dumps(ip)}: provided IP is not in the valid range. "
            f"The range of valid IPs is {net}",
        )
    return int(addr)


def assign_cluster_ips(services: Sequence[Service]) -> tuple[Service, ...]:
    """Fill ``cluster_ip`` of every Service that gets one; keeps input order.

    A clash is blamed on the later Service in input order, and a user's Service asking
    for the kubernetes or kube-dns address on the user's Service (never on podnet's).
    """
    net = ipaddress.ip_network(SERVICE_CIDR)
    assert isinstance(net, ipaddress.IPv4Network)
    owners = {int(ipaddress.ip_address(ip)): key for key, ip in RESERVED_IPS.items()}
    taken: dict[int, Service] = {}  # address -> the Service holding it
    chosen: dict[str, str | None] = {}
    for svc in services:
        reserved = RESERVED_IPS.get(svc.key)
        ip = svc.cluster_ip if svc.cluster_ip is not None else reserved
        if reserved is not None and ip != reserved:
            raise _error(
                svc,
                "spec.clusterIP",
                f"Invalid value: {json.dumps(ip)}: Service/{svc.key} has clusterIP {reserved} "
                "in every podnet cluster (leave clusterIP unset)",
            )
        if svc.type == "ExternalName" or svc.headless:
            chosen[svc.key] = svc.cluster_ip if svc.headless else None
            continue
        if ip is None:
            continue
        addr = _check_ip(svc, ip, net)
        owner = owners.get(addr, svc.key)
        if owner != svc.key:
            raise _error(
                svc,
                "spec.clusterIP",
                f"Invalid value: {json.dumps(ip)}: {ERR_ALLOCATED} (to Service/{owner}, which "
                "podnet creates as a cluster does; leave clusterIP unset to get a free one)",
            )
        holder = taken.get(addr)
        if holder is not None:
            raise _error(
                svc,
                "spec.clusterIP",
                f"Invalid value: {json.dumps(ip)}: {ERR_ALLOCATED} (to {_where(holder)})",
            )
        taken[addr] = svc
        chosen[svc.key] = ip
    used = set(taken) | set(owners)
    cursor = int(ipaddress.ip_address(FIRST_DYNAMIC_IP))
    last = int(net.broadcast_address) - 1
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        if svc.key in chosen:
            continue
        while cursor in used:
            cursor += 1
        if cursor > last:
            raise _error(svc, None, f"failed to allocate a serviceIP: {ERR_FULL} ({net})")
        used.add(cursor)
        chosen[svc.key] = str(ipaddress.ip_address(cursor))
    return tuple(dataclasses.replace(s, cluster_ip=chosen[s.key]) for s in services)


def assign_node_ports(services: Sequence[Service]) -> tuple[Service, ...]:
    """Fill ``node_port`` on every port of NodePort/LoadBalancer Services."""
    taken: dict[int, tuple[Service, set[str]]] = {}  # nodePort -> (holder, protocols)

    def claim(svc: Service, i: int, port: int) -> None:
        p = svc.ports[i]
        field = f"spec.ports[{i}].nodePort"
        if not NODE_PORT_MIN <= port <= NODE_PORT_MAX:
            raise _error(
                svc,
                field,
                f"Invalid value: {port}: provided port is not in the valid range. "
                f"The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}",
            )
        holder = taken.get(port)
        if holder is None:
            taken[port] = (svc, {p.protocol})
        elif holder[0].key != svc.key or p.protocol in holder[1]:
            raise _error(
                svc,
                field,
                f"Invalid value: {port}: provided port is already allocated "
                f"(to {_where(holder[0])}, {'/'.join(sorted(holder[1]))})",
            )
        else:
            holder[1].add(p.protocol)

    wants = [s for s in services if s.type in ("NodePort", "LoadBalancer")]
    for svc in wants:
        for i, p in enumerate(svc.ports):
            if p.node_port is not None:
                claim(svc, i, p.node_port)
    result: dict[str, Service] = {}
    cursor = NODE_PORT_MIN
    for svc in sorted(wants, key=lambda s: (s.namespace, s.name)):
        ports: list[ServicePort] = []
        by_number: dict[int, int] = {p.port: p.node_port for p in svc.ports if p.node_port}
        for i, p in enumerate(svc.ports):
            if p.node_port is None:
                shared = by_number.get(p.port)
                if shared is not None and p.protocol not in taken[shared][1]:
                    claim(svc, i, shared)
                    p = dataclasses.replace(p, node_port=shared)
                else:
                    while cursor in taken:
                        cursor += 1
                    if cursor > NODE_PORT_MAX:
                        raise _error(
                            svc,
                            f"spec.ports[{i}].nodePort",
                            f"failed to allocate a nodePort: {ERR_FULL} "
                            f"({NODE_PORT_MIN}-{NODE_PORT_MAX})",
                        )
                    claim(svc, i, cursor)
                    by_number[p.port] = cursor
                    p = dataclasses.replace(p, node_port=cursor)
            ports.append(p)
        result[svc.key] = dataclasses.replace(svc, ports=tuple(ports))
    return tuple(result.get(s.key, s) for s in services)
