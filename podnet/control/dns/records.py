"""The indexed record set behind :func:`podnet.control.dns.lookup.resolve`.

Built once per :class:`ClusterState` (CoreDNS keeps the same kind of index over its
informer caches); ``resolve`` is then a few dict lookups. Keys are lower-case names
without the trailing dot; every :class:`RR` carries its absolute owner name. See
:mod:`podnet.control.dns.lookup` for which names exist and why.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from podnet.model.cluster import CLUSTER_DOMAIN, ClusterState, Endpoint
from podnet.model.objects import Service

TTL = 30  # kubeadm's Corefile "ttl 30" (the kubernetes plugin defaults to 5)
VERSION_TTL = 28800  # CoreDNS answers dns-version with this TTL
SCHEMA_VERSION = "1.1.0"
SOA_SERIAL = 1  # CoreDNS uses its last API change time; podnet has no clock
SOA_TIMERS = "7200 1800 86400"  # refresh retry expire, as plugin/backend_lookup.go SOA


class RR(NamedTuple):
    """One resource record: ``data`` is the IP (A), target (CNAME/PTR/NS),
    ``"priority weight port target"`` (SRV), text (TXT) or the SOA rdata.

    A NamedTuple rather than a frozen dataclass: equally immutable, and about five
    times cheaper to create, which matters with ~100k records for 10k Services.
    """

    name: str  # absolute, trailing dot
    type: str
    ttl: int
    data: str


RRSets = dict[str, dict[str, tuple[RR, ...]]]


@dataclass(frozen=True)
class DnsRecords:
    domain: str
    ttl: int
    rrsets: RRSets  # name -> type -> records
    empty_nonterminals: frozenset[str]
    namespaces: frozenset[str]

    def all_rrs(self) -> Iterator[RR]:
        """Every stored record, flattened (e.g. for the DNS pod's records file).

        Pod names (``pods insecure``) are answered on the fly and are not in here; the
        apex SOA is, with its rdata as ``"mname rname serial refresh retry expire min"``.
        """
        for types in self.rrsets.values():
            for rrs in types.values():
                yield from rrs

    def soa(self, zone: str) -> RR:
        data = f"ns.dns.{self.domain}. hostmaster.{zone}. {SOA_SERIAL} {SOA_TIMERS} {self.ttl}"
        return RR(zone + ".", "SOA", self.ttl, data)


def canonical(name: str) -> str:
    """The index key of a DNS name: lower case, no trailing dot (names are case-blind)."""
    return name.rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """``name`` (canonical) is ``zone`` or below it."""
    return name == zone or name.endswith("." + zone)


def reverse_name(ip: str) -> str:
    """``10.96.0.1`` -> ``1.0.96.10.in-addr.arpa`` (no trailing dot).

    Plain string work: the addresses come from the controllers, already valid, and
    ``ipaddress`` parsing dominated building records for 10k Services.
    """
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(x) for x in ip.split("."))


def _dashed(ip: str) -> str:
    return ip.replace(".", "-")


def _srv_weight(count: int) -> int:
    """plugin/backend_lookup.go SRV: equal weights summing to about 100."""
    return 100 // count if count else 0


class _Builder:
    def __init__(self, domain: str, ttl: int) -> None:
        self.domain = domain
        self.ttl = ttl
        self.sets: dict[str, dict[str, list[RR]]] = defaultdict(lambda: defaultdict(list))

    def add(self, name: str, rtype: str, data: str, ttl: int | None = None) -> None:
        rr = RR(name + ".", rtype, self.ttl if ttl is None else ttl, data)
        bucket = self.sets[name][rtype]
        if rr not in bucket:
            bucket.append(rr)

    def srv_set(self, name: str, entries: list[tuple[int, str]]) -> None:
        """One SRV RRset at ``name`` from ``(port, target)`` pairs, weights shared."""
        weight = _srv_weight(len(entries))
        for port, target in entries:
            self.add(name, "SRV", f"0 {weight} {port} {target}.")

    def service(self, svc: Service, eps: dict[str, tuple[Endpoint, ...]]) -> None:
        base = f"{svc.name}.{svc.namespace}.svc.{self.domain}"
        if svc.type == "ExternalName":
            target = (svc.external_name or "").rstrip(".").lower()
            if target and not _is_ip(target):
                self.add(base, "CNAME", target + ".")
            return
        all_eps = sorted(
            {(e.ip, e.hostname or _dashed(e.ip)) for port in eps.values() for e in port},
            key=lambda t: (_ip_key(t[0]), t[1]),
        )
        for ip, host in all_eps:
            self.add(f"{host}.{base}", "A", ip)
            self.add(reverse_name(ip), "PTR", f"{host}.{base}.")
        if svc.headless:
            self._headless(svc, base, eps, [ip for ip, _ in all_eps])
        elif svc.cluster_ip:
            self._cluster_ip(svc, base, svc.cluster_ip)

    def _cluster_ip(self, svc: Service, base: str, ip: str) -> None:
        self.add(base, "A", ip)
        self.add(reverse_name(ip), "PTR", base + ".")
        self.srv_set(base, [(p.port, base) for p in svc.ports])
        for p in svc.ports:
            if p.name:
                name = f"_{p.name}._{p.protocol.lower()}.{base}"
                self.srv_set(name, [(p.port, base)])
                self.add(name, "A", ip)

    def _headless(
        self, svc: Service, base: str, eps: dict[str, tuple[Endpoint, ...]], ips: list[str]
    ) -> None:
        for ip in ips:
            self.add(base, "A", ip)
        if not ips:
            return
        everything: list[tuple[int, str]] = []
        for p in svc.ports:
            entries = [
                (e.port, f"{e.hostname or _dashed(e.ip)}.{base}") for e in eps.get(p.name, ())
            ]
            everything += entries
            if p.name and entries:
                name = f"_{p.name}._{p.protocol.lower()}.{base}"
                self.srv_set(name, entries)
                for e in eps.get(p.name, ()):
                    self.add(name, "A", e.ip)
        self.srv_set(base, everything)

    def frozen(self) -> RRSets:
        return {n: {t: tuple(rrs) for t, rrs in types.items()} for n, types in self.sets.items()}


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def build_records(state: ClusterState, domain: str = CLUSTER_DOMAIN) -> DnsRecords:
    """Every record the cluster DNS serves for ``state`` (pods are answered on the fly)."""
    domain = canonical(domain)
    b = _Builder(domain, TTL)
    namespaces = frozenset(ns.name for ns in state.namespaces)
    for svc in state.services:
        b.service(svc, state.endpoints.get(svc.key, {}))
    b.add(f"dns-version.{domain}", "TXT", SCHEMA_VERSION, ttl=VERSION_TTL)
    records = DnsRecords(domain, TTL, {}, frozenset(), namespaces)
    b.sets[domain]["SOA"].append(records.soa(domain))
    b.add(domain, "NS", f"ns.dns.{domain}.")
    dns_svc = state.service("kube-system/kube-dns")
    if dns_svc is not None and dns_svc.cluster_ip and not dns_svc.headless:
        b.add(f"ns.dns.{domain}", "A", dns_svc.cluster_ip)
    ents = {f"svc.{domain}", f"pod.{domain}"}
    for ns in namespaces:
        ents.update({f"{ns}.svc.{domain}", f"{ns}.pod.{domain}"})
    return DnsRecords(domain, TTL, b.frozen(), frozenset(ents), namespaces)


def empty_records(domain: str = CLUSTER_DOMAIN) -> DnsRecords:
    """The zone of a cluster with no objects: apex SOA/NS, ``dns-version``, nothing else.

    What the DNS pod serves before it has a records file.
    """
    return build_records(ClusterState((), (), (), (), ()), domain)
