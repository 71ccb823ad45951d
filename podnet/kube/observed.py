"""A cluster's objects -> :class:`Manifests` and the :class:`ClusterState` it is in.

Every object goes through the same validation and defaulting as a manifest file
(:func:`podnet.manifests.from_documents`), as ``podnet up`` does with what ``kubectl
apply`` stores; then what the cluster observed replaces what podnet would compute:
nothing is scheduled or allocated here (:func:`build_cluster` is not called).

- Pod IPs and nodes come from ``status.podIPs`` and ``spec.nodeName``. The model has one
  address per pod: a dual-stack pod keeps its IPv4 one; an IPv6-only pod is analysed
  with no IP (a warning says so).
- Readiness is the Ready condition; a terminating pod (deletionTimestamp) is not ready,
  as the EndpointSlice controller marks it. Endpoints are then computed from the pods
  by the same rules as everywhere (:func:`compute_endpoints`); a Service without a
  selector takes its endpoints from its EndpointSlices (the pods they name).
- Finished pods (Succeeded, Failed) hold no IP and are left out; host-network pods share
  their node's address and no NetworkPolicy selects their traffic: left out, counted in
  a warning. Workload pods are the Pods themselves, so each is counted once.
- ClusterIPs are the Services' own (the cluster's service CIDR, e.g. k3s's 10.43/16, is
  whatever they are in: podnet's 10.96/12 range check is skipped for them); nodes carry
  their ``spec.podCIDR`` (k3s: 10.42.N.0/24) and InternalIP.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable
from typing import Any

from podnet.control.endpoints import compute_endpoints
from podnet.errors import Location, ManifestError
from podnet.kube.client import Obj
from podnet.kube.read import Snapshot, policy_versions
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState, Endpoint, Node
from podnet.model.objects import Manifests, Pod, Service

FINISHED = ("Succeeded", "Failed")


@dataclasses.dataclass(frozen=True)
class _PodFacts:
    ip: str | None
    node: str | None
    ready: bool
    owner: str | None


def _name(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _where(obj: Obj) -> str:
    ns, name = _name(obj)
    return "/".join(x for x in (str(obj.get("kind", "")), ns, name) if x)


def pod_ipv4(pod: Obj) -> str | None:
    """The pod's IPv4 address among ``status.podIPs`` (dual-stack), else ``podIP``
    when it is IPv4; None when it has none yet (Pending) or only IPv6."""
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    for ip in ips:
        try:
            if ipaddress.ip_address(ip).version == 4:
                return ip
        except ValueError:
            continue
    return None


def pod_owner(pod: Obj) -> str | None:
    """``Kind/name`` of the pod's controller, as podnet names workload pods' owners: a
    Deployment's pod names its ReplicaSet ``<deployment>-<pod-template-hash>``
    (pkg/controller/deployment/sync.go), so that one is ``Deployment/<deployment>``."""
    meta = pod.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or [] if r.get("controller")]
    if not refs:
        return None
    kind, name = str(refs[0].get("kind") or ""), str(refs[0].get("name") or "")
    hash_ = (meta.get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and hash_ and name.endswith(f"-{hash_}"):
        return f"Deployment/{name.removesuffix(f'-{hash_}')}"
    return f"{kind}/{name}"


def pod_ready(pod: Obj) -> bool:
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def to_node(obj: Obj) -> Node:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or [] if c]
    v4 = [c for c in cidrs if ":" not in c]
    cidr = str(spec.get("podCIDR") or "") if not v4 else v4[0]
    addresses = (obj.get("status") or {}).get("addresses") or []
    internal = [str(a.get("address")) for a in addresses if a.get("type") == "InternalIP"]
    internal4 = [a for a in internal if ":" not in a]
    return Node(
        name=str(meta.get("name") or ""),
        labels=dict(meta.get("labels") or {}),
        pod_cidr=cidr,
        address=(internal4 or internal or [""])[0],
    )


def _doc(obj: Obj) -> dict[str, Any]:
    """What the checks see: the object without status (server-written)."""
    return {k: v for k, v in obj.items() if k != "status"}


def _service_doc(obj: Obj) -> dict[str, Any]:
    doc = _doc(obj)
    spec = dict(doc.get("spec") or {})
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    doc["spec"] = spec
    return doc


def _convert(docs: list[dict[str, Any]], warnings: list[str]) -> Manifests:
    """All at once; if anything is refused, one by one, leaving out (with a warning)
    what podnet cannot model, so one odd object does not hide the cluster."""
    located = [(d, Location(f"cluster:{_where(d)}", 1)) for d in docs]
    try:
        return from_documents(located)
    except ManifestError:
        pass
    parts: list[Manifests] = []
    for d, loc in located:
        try:
            parts.append(from_documents([(d, loc)]))
        except ManifestError as e:
            warnings.append(f"{_where(d)} left out: {e}")
    return Manifests(
        namespaces=_unique_namespaces(ns for m in parts for ns in m.namespaces),
        pods=tuple(p for m in parts for p in m.pods),
        services=tuple(s for m in parts for s in m.services),
        policies=tuple(p for m in parts for p in m.policies),
        cluster_policies=tuple(c for m in parts for c in m.cluster_policies),
        warnings=tuple(w for m in parts for w in m.warnings),
    )


def _unique_namespaces(items: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for ns in items:
        if ns.name not in seen or (ns.meta is not None and ns.meta.location):
            seen[ns.name] = ns
    return tuple(seen.values())


def _slice_endpoints(
    svc: Service, slices: list[Obj], pods: dict[str, Pod]
) -> dict[str, tuple[Endpoint, ...]]:
    """A selector-less Service's endpoints from its EndpointSlices: the IPv4 addresses
    of the pods they name (addresses of no pod are outside what podnet analyses)."""
    out: dict[str, list[Endpoint]] = {p.name: [] for p in svc.ports}
    for sl in slices:
        labels = (sl.get("metadata") or {}).get("labels") or {}
        if _name(sl)[0] != svc.namespace or labels.get("kubernetes.io/service-name") != svc.name:
            continue
        if sl.get("addressType") != "IPv4":
            continue
        for ep in sl.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            pod = pods.get(f"{ref.get('namespace') or svc.namespace}/{ref.get('name')}")
            if ref.get("kind") != "Pod" or pod is None or pod.ip is None or pod.node is None:
                continue
            ready = (ep.get("conditions") or {}).get("ready") is not False
            for port in sl.get("ports") or []:
                name = str(port.get("name") or "")
                if name in out and isinstance(port.get("port"), int):
                    out[name].append(
                        Endpoint(
                            pod=pod.key,
                            ip=pod.ip,
                            node=pod.node,
                            port=port["port"],
                            protocol=str(port.get("protocol") or "TCP"),
                            ready=ready,
                        )
                    )
    return {k: tuple(sorted(v, key=lambda e: (e.ip, e.port))) for k, v in out.items()}


@dataclasses.dataclass(frozen=True)
class Observed:
    """A cluster as podnet's model; ``ready`` is each pod's Ready condition;
    ``policy_versions`` each policy read with its resourceVersion and ``scope`` the
    namespace read (None: all), to tell later what changed since
    (:func:`podnet.kube.read.policy_changes`)."""

    manifests: Manifests
    state: ClusterState
    ready: dict[str, bool]
    policy_versions: dict[str, str] = dataclasses.field(default_factory=dict)
    scope: str | None = None


def to_state(snap: Snapshot) -> Observed:
    """The snapshot as podnet's model, observed facts in place of computed ones."""
    warnings: list[str] = []
    facts: dict[str, _PodFacts] = {}
    docs: list[dict[str, Any]] = [_doc(o) for o in snap.namespaces]
    finished = host = v6only = 0
    for pod in snap.pods:
        status, spec = pod.get("status") or {}, pod.get("spec") or {}
        if status.get("phase") in FINISHED:
            finished += 1
            continue
        if spec.get("hostNetwork"):
            host += 1
            continue
        ip = pod_ipv4(pod)
        if ip is None and (status.get("podIP") or status.get("podIPs")):
            v6only += 1
        ns, name = _name(pod)
        facts[f"{ns}/{name}"] = _PodFacts(
            ip, spec.get("nodeName") or None, pod_ready(pod), pod_owner(pod)
        )
        docs.append(_doc(pod))
    cluster_ips = {
        "/".join(_name(s)): (s.get("spec") or {}).get("clusterIP") for s in snap.services
    }
    docs += [_service_doc(s) for s in snap.services]
    docs += [_doc(p) for p in (*snap.policies, *snap.cluster_policies)]
    m = _convert(docs, warnings)
    pods = tuple(
        dataclasses.replace(p, ip=facts[p.key].ip, node=facts[p.key].node, owner=facts[p.key].owner)
        for p in m.pods
        if p.key in facts
    )
    services = tuple(
        dataclasses.replace(s, cluster_ip=str(cluster_ips[s.key] or "") or None)
        if s.type != "ExternalName"
        else s
        for s in m.services
    )
    ready = {k: f.ready for k, f in facts.items()}
    endpoints = compute_endpoints(services, pods, ready)
    by_key = {p.key: p for p in pods}
    for svc in services:
        if not svc.selector and svc.type != "ExternalName":
            endpoints[svc.key] = _slice_endpoints(svc, snap.endpoint_slices, by_key)
    if host:
        warnings.append(
            f"{host} host-network pod(s) left out: they use their node's address, and "
            "NetworkPolicies do not select their traffic"
        )
    if finished:
        warnings.append(f"{finished} finished pod(s) (Succeeded/Failed) left out: no IP")
    if v6only:
        warnings.append(f"{v6only} IPv6-only pod(s) analysed without an IP (IPv4 only)")
    m = dataclasses.replace(m, pods=pods, services=services)
    state = ClusterState(
        nodes=tuple(to_node(n) for n in snap.nodes),
        namespaces=m.namespaces,
        pods=pods,
        services=services,
        policies=m.policies,
        cluster_policies=m.cluster_policies,
        endpoints=endpoints,
        warnings=(*m.warnings, *warnings),
    )
    return Observed(m, state, ready, policy_versions(snap), snap.namespace)
