"""Which connections ``podnet probe`` tries, and where each one is sent: pure planning.

The probed set is the connectivity matrix's (:mod:`podnet.analyze.matrix`): every
ordered pair of distinct pods, on every port the destination serves
(:func:`~podnet.control.served.served_ports`). Self pairs are skipped, as upstream's
netpol e2e suite skips them (implementations differ on hairpin traffic).

``via="pod"`` connects to the destination's pod IP and port. ``via="service"`` goes the
way upstream's probe goes (test/e2e/network/netpol/probe.go connects to the Service
ClusterIP): through a Service of the destination's namespace with a ClusterIP whose
port's endpoints include the destination pod on the probed port (so its targetPort
maps to it, named targetPorts resolved per pod). Of several such Services the one with
the fewest endpoints on that port wins (then by name): with one endpoint the kernel
must pick the destination itself; with more, any of them may answer, so the probe's
possible outcomes are the verdicts of all of them (:attr:`Planned.backends`). A pair
without such a Service is planned with ``address=None`` ("no service").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from podnet.control.served import served_ports_by_pod
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod, Service

VIAS = ("pod", "service")


@dataclass(frozen=True)
class Planned:
    """One connection to try from ``src`` to ``dst`` on ``port``/``protocol``."""

    src: str  # pod key
    dst: str
    port: int  # the destination pod's port (what the policy judges)
    protocol: str
    address: str | None  # where the prober connects; None: no Service for this pair
    address_port: int
    service: str | None = None  # "ns/name" with via="service"
    backends: tuple[tuple[str, int], ...] = ()  # (pod, port) it may reach; dst first


def plan_probes(state: ClusterState, pods: Sequence[Pod], via: str = "pod") -> list[Planned]:
    """Every probe over ``pods`` (those with an IP), sorted by src, dst, port, protocol."""
    if via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}")
    chosen = sorted((p for p in pods if p.ip is not None), key=lambda p: p.key)
    served = served_ports_by_pod(chosen, state.services)
    out: list[Planned] = []
    for src in chosen:
        for dst in chosen:
            if dst.key == src.key:
                continue
            for port, proto in sorted(served[dst.key], key=lambda x: (x[0], x[1])):
                if via == "pod":
                    assert dst.ip is not None
                    one = ((dst.key, port),)
                    out.append(Planned(src.key, dst.key, port, proto, dst.ip, port, None, one))
                else:
                    out.append(_through_service(state, src.key, dst, port, proto))
    return out


Candidate = tuple[int, str, Service, int, tuple[tuple[str, int], ...]]


def _candidates(state: ClusterState, dst: Pod, port: int, proto: str) -> Iterator[Candidate]:
    for svc in state.services:
        if svc.namespace != dst.namespace or svc.cluster_ip in (None, "None"):
            continue
        if svc.type == "ExternalName":
            continue
        by_port = state.endpoints.get(svc.key, {})
        for sp in svc.ports:
            if sp.protocol != proto:
                continue
            eps = by_port.get(sp.name, ())
            if any(e.pod == dst.key and e.port == port and e.protocol == proto for e in eps):
                others = sorted({(e.pod, e.port) for e in eps if e.pod != dst.key})
                yield len(eps), svc.name, svc, sp.port, ((dst.key, port), *others)


def _through_service(state: ClusterState, src: str, dst: Pod, port: int, proto: str) -> Planned:
    best = min(_candidates(state, dst, port, proto), default=None, key=lambda c: (c[0], c[1]))
    if best is None:
        return Planned(src, dst.key, port, proto, None, 0)
    _, _, svc, svc_port, backends = best
    return Planned(src, dst.key, port, proto, svc.cluster_ip, svc_port, svc.key, backends)


def by_source(planned: Sequence[Planned]) -> dict[str, list[Planned]]:
    """The probes each source pod's prober runs (those with an address), in order."""
    out: dict[str, list[Planned]] = {}
    for p in planned:
        if p.address is not None:
            out.setdefault(p.src, []).append(p)
    return out
