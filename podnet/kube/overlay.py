"""What a cluster would be after ``kubectl apply -f FILES``: ``podnet diff
--from-cluster --to FILES`` compares it with what the cluster is now.

Apply replaces the objects the files name and leaves every other one alone, so the
cluster's objects are overlaid with the files' by key (Namespaces by name, the rest by
namespace/name, cluster policies by kind/name). A Service keeps its ClusterIP; a new one
gets a free address next to the cluster's own (the range of ``default/kubernetes``).

Pods keep what was observed wherever the cluster already runs them: a pod of the same
name keeps its IP and node; a workload's pods (same namespace and owner, e.g.
``Deployment/api``) take the names, IPs and nodes of the cluster's pods of that
workload one for one (a changed template rolls them in place, as far as reachability
is concerned); pods beyond the cluster's count get a free address of the least used
node's ``podCIDR``, and a workload scaled down loses its surplus pods. Without node
podCIDRs (EKS's VPC CNI), new pods stay without an IP (Pending), with a warning.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from podnet.control.endpoints import compute_endpoints
from podnet.control.scheduler import expand_daemonsets
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests, Namespace, Pod, Service

T = TypeVar("T")


def _by(items: Iterable[T], key: str) -> dict[str, T]:
    return {str(getattr(i, key)): i for i in items}


def _overlay(old: Iterable[T], new: Iterable[T], key: str) -> tuple[T, ...]:
    merged = _by(old, key)
    merged.update(_by(new, key))
    return tuple(merged.values())


class _Addresses:
    """Free addresses, lowest first, in a few networks; never one already in use."""

    def __init__(self, used: Iterable[str]) -> None:
        self.used = {ip for ip in used if ip}

    def take(self, network: str, first: int = 2) -> str | None:
        try:
            net = ipaddress.ip_network(network, strict=False)
        except ValueError:
            return None
        for offset in range(first, min(net.num_addresses - 1, 1 << 16)):
            ip = str(net.network_address + offset)
            if ip not in self.used:
                self.used.add(ip)
                return ip
        return None


def _pods(
    cluster: ClusterState, files: Manifests, ready: Mapping[str, bool]
) -> tuple[list[Pod], dict[str, bool], list[str]]:
    wanted = [*files.pods, *expand_daemonsets(files.daemonsets, cluster.nodes)]
    given_keys = {p.key for p in wanted}
    owners = {(p.namespace, p.owner) for p in wanted if p.owner}
    spare: dict[tuple[str, str | None], list[Pod]] = defaultdict(list)
    for p in sorted(cluster.pods, key=lambda p: p.name):
        if p.owner and p.key not in given_keys:
            spare[(p.namespace, p.owner)].append(p)
    out: list[Pod] = []
    new_ready: dict[str, bool] = {}
    fresh: list[Pod] = []
    existing = _by(cluster.pods, "key")
    for fp in wanted:
        old = existing.get(fp.key)
        if old is None and fp.owner and spare[(fp.namespace, fp.owner)]:
            old = spare[(fp.namespace, fp.owner)].pop(0)
        if old is None:
            fresh.append(fp)
            continue
        out.append(dataclasses.replace(fp, name=old.name, ip=old.ip, node=old.node))
        new_ready[old.key] = ready.get(old.key, True)
    taken = {p.key for p in out}
    for p in cluster.pods:  # untouched by the files: stays as it is
        if p.key not in taken and p.key not in given_keys and (p.namespace, p.owner) not in owners:
            out.append(p)
            new_ready[p.key] = ready.get(p.key, True)
    warnings: list[str] = []
    addrs = _Addresses(p.ip or "" for p in out)
    load = Counter(p.node for p in out if p.node)
    nodes = [n for n in cluster.nodes if n.pod_cidr]
    pending = 0
    for fp in fresh:
        ip = node = None
        for n in sorted(nodes, key=lambda n: (load[n.name], n.name)):
            ip = addrs.take(n.pod_cidr)
            if ip is not None:
                node = n.name
                load[node] += 1
                break
        pending += ip is None
        out.append(dataclasses.replace(fp, ip=ip, node=node))
        new_ready[fp.key] = True
    if pending:
        warnings.append(
            f"{pending} pod(s) new to the cluster analysed as Pending: its nodes declare "
            "no podCIDR to take an address from"
        )
    return out, new_ready, warnings


def _declared(namespaces: Iterable[Namespace]) -> list[Namespace]:
    """The files' own Namespaces, not the built-in ones loading adds."""
    return [n for n in namespaces if n.meta is not None and n.meta.location]


def _service_range(services: Sequence[Service]) -> str:
    """The /16 around ``default/kubernetes`` (the first address of the service CIDR;
    10.43.0.1 on k3s, 10.96.0.1 on kubeadm and kind, 10.100.0.1 or 172.20.0.1 on EKS)."""
    for s in services:
        if s.key == "default/kubernetes" and s.cluster_ip and s.cluster_ip != "None":
            return str(ipaddress.ip_network(f"{s.cluster_ip}/16", strict=False))
    return "10.96.0.0/16"


def apply_files(cluster: ClusterState, ready: Mapping[str, bool], files: Manifests) -> ClusterState:
    """``cluster`` (with its pods' readiness) after applying ``files``."""
    pods, new_ready, warnings = _pods(cluster, files, ready)
    old_svc = _by(cluster.services, "key")
    addrs = _Addresses(s.cluster_ip or "" for s in cluster.services)
    srange = _service_range(cluster.services)
    services: list[Service] = []
    for s in _overlay(cluster.services, files.services, "key"):
        if s.cluster_ip is None and s.type != "ExternalName":
            prev = old_svc.get(s.key)
            ip = prev.cluster_ip if prev is not None else addrs.take(srange, first=11)
            s = dataclasses.replace(s, cluster_ip=ip)
        services.append(s)
    endpoints = compute_endpoints(services, pods, new_ready)
    for s in services:  # selector-less: what the cluster's EndpointSlices say, unchanged
        if not s.selector and s.key in cluster.endpoints:
            endpoints[s.key] = cluster.endpoints[s.key]
    return ClusterState(
        nodes=cluster.nodes,
        namespaces=_overlay(cluster.namespaces, _declared(files.namespaces), "name"),
        pods=tuple(pods),
        services=tuple(services),
        policies=_overlay(cluster.policies, files.policies, "key"),
        cluster_policies=_overlay(cluster.cluster_policies, files.cluster_policies, "key"),
        endpoints=endpoints,
        warnings=(*files.warnings, *warnings),
    )
