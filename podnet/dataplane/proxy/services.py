"""What the Service proxy must realise, as plain data: :func:`compile_services`.

One :class:`ServicePortRule` per (Service, port) with a ClusterIP, carrying the ready
backends (``Endpoint.ip`` and the already-resolved ``Endpoint.port``, so named
targetPorts need nothing here), the NodePort if any, and the ClientIP affinity timeout.
Pure: no I/O, no clock; :mod:`podnet.dataplane.proxy.rules` turns it into nftables.

Kubernetes behaviour reproduced (kube-proxy ``pkg/proxy/nftables/proxier.go``):

* headless Services (``clusterIP: None``), ExternalName Services and Services without
  an allocated ClusterIP get no rules (kube-proxy skips them too);
* only ready endpoints are used. ``publishNotReadyAddresses`` makes the EndpointSlice
  controller publish not-ready pods as ready, so they count then;
* an endpoint must match the port's protocol;
* NodePorts exist for ``type: NodePort`` and ``type: LoadBalancer``;
* ``sessionAffinity: ClientIP`` carries ``sessionAffinityConfig.clientIP.timeoutSeconds``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service

_NODEPORT_TYPES = ("NodePort", "LoadBalancer")


class Backend(NamedTuple):
    """One endpoint address; a tuple so that sorting and hashing 20,000 of them is cheap."""

    ip: str
    port: int


class ServicePortRule(NamedTuple):
    """One Service port as the data plane sees it (a tuple: 10,000s are compiled)."""

    service: str  # namespace/name
    port_name: str  # "" when unnamed
    cluster_ip: str
    protocol: str  # TCP, UDP, SCTP
    port: int
    node_port: int | None
    backends: tuple[Backend, ...]  # sorted, unique
    affinity_timeout: int | None  # seconds, when sessionAffinity is ClientIP

    @property
    def frontend(self) -> tuple[str, str, int]:
        return (self.cluster_ip, self.protocol, self.port)


@dataclass(frozen=True)
class ProxyState:
    """Everything one node's proxy table realises, sorted by frontend."""

    ports: tuple[ServicePortRule, ...] = ()


def compile_service(
    svc: Service, endpoints: Mapping[str, tuple[Endpoint, ...]]
) -> list[ServicePortRule]:
    """The rules of one Service (empty when it gets none: headless, ExternalName, ...)."""
    if svc.type == "ExternalName" or svc.cluster_ip is None or svc.headless:
        return []
    affinity = svc.session_affinity_timeout if svc.session_affinity == "ClientIP" else None
    out = []
    any_ready = svc.publish_not_ready_addresses
    for sp in svc.ports:
        eps = endpoints.get(sp.name, ())
        proto = sp.protocol
        backends = sorted(
            {Backend(e.ip, e.port) for e in eps if e.protocol == proto and (e.ready or any_ready)}
        )
        node_port = sp.node_port if svc.type in _NODEPORT_TYPES else None
        out.append(
            ServicePortRule(
                service=svc.key,
                port_name=sp.name,
                cluster_ip=svc.cluster_ip,
                protocol=sp.protocol,
                port=sp.port,
                node_port=node_port,
                backends=tuple(backends),
                affinity_timeout=affinity,
            )
        )
    return out


def compile_services(state: ClusterState) -> ProxyState:
    """The proxy's desired state for ``state`` (same on every node: NodePorts are matched
    on whatever addresses are local to the node, as kube-proxy does by default)."""
    ports: list[ServicePortRule] = []
    with gc_paused():
        for svc in state.services:
            ports.extend(compile_service(svc, state.endpoints.get(svc.key, {})))
        ports.sort(key=rule_order)
    return ProxyState(tuple(ports))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building big, cycle-free data.

    Compiling or loading 10,000 Services creates some 100,000 objects and frees none;
    CPython still runs a collection every 700 allocations and now and then one over
    the whole heap (the ClusterState included): measured, that was a third or more of
    the full-load time. Nothing here creates reference cycles, so pausing is safe.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def rule_order(r: ServicePortRule) -> tuple[str, str, int, str]:
    """The order of :attr:`ProxyState.ports`; the first rule of a frontend owns it."""
    return (r.cluster_ip, r.protocol, r.port, r.service)
