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

``default/kubernetes`` (10.96.0.1, reserved for the API server) and
``kube-system/kube-dns`` (10.96.0.10, kubeadm's ``clusterDNS``) are added when absent,
with the DNS pod ``kube-system/coredns-0`` behind the latter.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence

from podnet.errors import ClusterError
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


def _check_ip(svc: Service, ip: str, net: ipaddress.IPv4Network) -> int:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise ClusterError(f"Service/{svc.key}: spec.clusterIP {ip!r} is not an IP") from None
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise ClusterError(
            f"Service/{svc.key}: spec.clusterIP {ip} is not in the service range {net}"
        )
    return int(addr)


def assign_cluster_ips(services: Sequence[Service]) -> tuple[Service, ...]:
    """Fill ``cluster_ip`` of every Service that gets one; keeps input order."""
    net = ipaddress.ip_network(SERVICE_CIDR)
    assert isinstance(net, ipaddress.IPv4Network)
    taken: dict[int, str] = {}  # address -> service key
    chosen: dict[str, str | None] = {}
    for svc in services:
        reserved = RESERVED_IPS.get(svc.key)
        ip = svc.cluster_ip if svc.cluster_ip is not None else reserved
        if reserved is not None and ip != reserved:
            raise ClusterError(f"Service/{svc.key} must have clusterIP {reserved}, not {ip}")
        if svc.type == "ExternalName" or svc.headless:
            chosen[svc.key] = svc.cluster_ip if svc.headless else None
            continue
        if ip is None:
            continue
        addr = _check_ip(svc, ip, net)
        holder = taken.get(addr)
        if holder is not None:
            raise ClusterError(
                f"Service/{svc.key}: clusterIP {ip} is already used by Service/{holder}"
            )
        taken[addr] = svc.key
        chosen[svc.key] = ip
    for key in (KUBERNETES_KEY, KUBE_DNS_KEY):
        addr = int(ipaddress.ip_address(RESERVED_IPS[key]))
        if addr in taken and taken[addr] != key:
            raise ClusterError(
                f"Service/{taken[addr]}: clusterIP {RESERVED_IPS[key]} is reserved "
                f"for Service/{key}"
            )
        taken.setdefault(addr, key)
    cursor = int(ipaddress.ip_address(FIRST_DYNAMIC_IP))
    last = int(net.broadcast_address) - 1
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        if svc.key in chosen:
            continue
        while cursor in taken:
            cursor += 1
        if cursor > last:
            raise ClusterError(f"Service/{svc.key}: the service range {net} is exhausted")
        taken[cursor] = svc.key
        chosen[svc.key] = str(ipaddress.ip_address(cursor))
    return tuple(dataclasses.replace(s, cluster_ip=chosen[s.key]) for s in services)


def assign_node_ports(services: Sequence[Service]) -> tuple[Service, ...]:
    """Fill ``node_port`` on every port of NodePort/LoadBalancer Services."""
    taken: dict[int, tuple[str, set[str]]] = {}  # nodePort -> (service key, protocols)

    def claim(svc: Service, p: ServicePort, port: int) -> None:
        if not NODE_PORT_MIN <= port <= NODE_PORT_MAX:
            raise ClusterError(
                f"Service/{svc.key}: nodePort {port} is outside {NODE_PORT_MIN}-{NODE_PORT_MAX}"
            )
        holder = taken.get(port)
        if holder is None:
            taken[port] = (svc.key, {p.protocol})
        elif holder[0] != svc.key or p.protocol in holder[1]:
            raise ClusterError(
                f"Service/{svc.key}: nodePort {port}/{p.protocol} is already used by "
                f"Service/{holder[0]}"
            )
        else:
            holder[1].add(p.protocol)

    wants = [s for s in services if s.type in ("NodePort", "LoadBalancer")]
    for svc in wants:
        for p in svc.ports:
            if p.node_port is not None:
                claim(svc, p, p.node_port)
    result: dict[str, Service] = {}
    cursor = NODE_PORT_MIN
    for svc in sorted(wants, key=lambda s: (s.namespace, s.name)):
        ports: list[ServicePort] = []
        by_number: dict[int, int] = {p.port: p.node_port for p in svc.ports if p.node_port}
        for p in svc.ports:
            if p.node_port is None:
                shared = by_number.get(p.port)
                if shared is not None and p.protocol not in taken[shared][1]:
                    claim(svc, p, shared)
                    p = dataclasses.replace(p, node_port=shared)
                else:
                    while cursor in taken:
                        cursor += 1
                    if cursor > NODE_PORT_MAX:
                        raise ClusterError(f"Service/{svc.key}: no free nodePort left")
                    claim(svc, p, cursor)
                    by_number[p.port] = cursor
                    p = dataclasses.replace(p, node_port=cursor)
            ports.append(p)
        result[svc.key] = dataclasses.replace(svc, ports=tuple(ports))
    return tuple(result.get(s.key, s) for s in services)
