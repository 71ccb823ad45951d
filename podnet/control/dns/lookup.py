"""Cluster DNS records and answers, as the CoreDNS ``kubernetes`` plugin gives them.

Specification: Kubernetes DNS-Based Service Discovery 1.1.0
(github.com/kubernetes/dns docs/specification.md). Behaviour where the spec is silent
follows CoreDNS plugin/kubernetes (parse.go ``parseRequest``, kubernetes.go
``findServices`` / ``findPods``, reverse.go, handler.go) with kubeadm's Corefile::

    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }

so the TTL is 30 s (the plugin's own default is 5 s; kubeadm sets 30) and
``dns-version`` answers with TTL 28800 as CoreDNS does.

Names (``<zone>`` = cluster.local):

* ClusterIP Service: ``<svc>.<ns>.svc.<zone>`` A -> ClusterIP; PTR for the ClusterIP.
* headless Service: ``<svc>.<ns>.svc.<zone>`` A -> every ready endpoint IP; a headless
  Service without endpoints does not exist (NXDOMAIN, as ``findServices``).
* endpoint names ``<host>.<svc>.<ns>.svc.<zone>`` A -> endpoint IP, where ``<host>`` is
  the pod's hostname (when ``subdomain`` = Service name) or the dashed IP; CoreDNS
  answers these for every Service with endpoints, not only headless ones. Each
  endpoint IP also gets a PTR to its endpoint name (reverse.go), for every Service.
* SRV ``_<port>._<proto>.<svc>.<ns>.svc.<zone>`` for named ports: ClusterIP -> target
  the Service name; headless -> one per endpoint, target the endpoint name. An SRV
  query for the Service name itself lists every port. Priority 0, weight
  ``floor(100 / number of answers)`` (plugin/backend_lookup.go). A queries on the SRV
  names answer with the addresses, as CoreDNS does.
* ExternalName: CNAME to ``spec.externalName`` (not chased outside the zone).
* pods (``pods insecure``): ``a-b-c-d.<ns>.pod.<zone>`` A -> a.b.c.d for any IPv4
  address, as long as ``<ns>`` exists; no check that a pod has the address. Chosen
  because it is the kubeadm default and needs no pod index.
* ``dns-version.<zone>`` TXT "1.1.0". Apex: SOA and NS ``ns.dns.<zone>`` (A -> kube-dns).

Negative answers: a name that exists with other types, and the empty non-terminals
``<zone>``, ``svc.<zone>``, ``pod.<zone>``, ``<ns>.svc.<zone>``, ``<ns>.pod.<zone>`` of
existing namespaces, are NODATA (NOERROR, no answers, SOA in authority); any other name
in the zone is NXDOMAIN. AAAA and TXT of IPv4-only names are NODATA. Two deliberate
differences from CoreDNS, both towards RFC 2308: A on ``dns-version`` is NODATA (CoreDNS
says NXDOMAIN) and TXT on a missing name is NXDOMAIN (CoreDNS says NODATA).

Names outside the zone, and reverse names with no record (the ``fallthrough
in-addr.arpa``), come back with ``outside=True`` and rcode ``REFUSED``: the DNS server
forwards them upstream if it has one, else sends REFUSED as is. AXFR/IXFR are REFUSED.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from podnet.control.dns.records import RR, DnsRecords, build_records, reverse_name

__all__ = ["RR", "DnsAnswer", "DnsRecords", "build_records", "resolve", "reverse_name"]

MAX_CNAME_CHAIN = 8


@dataclass(frozen=True)
class DnsAnswer:
    """An answer as plain data; the server maps it onto the wire (principle 9)."""

    rcode: str  # NOERROR, NXDOMAIN, REFUSED
    answers: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()
    additional: tuple[RR, ...] = ()
    outside: bool = False  # not ours: forward upstream if possible
    authoritative: bool = field(default=True)

    @property
    def nodata(self) -> bool:
        return self.rcode == "NOERROR" and not self.answers

    @property
    def nxdomain(self) -> bool:
        return self.rcode == "NXDOMAIN"


def _pod_record(records: DnsRecords, name: str) -> dict[str, tuple[RR, ...]] | None:
    """``a-b-c-d.<ns>.pod.<zone>`` under ``pods insecure`` (kubernetes.go findPods)."""
    suffix = f".pod.{records.domain}"
    if not name.endswith(suffix):
        return None
    labels = name[: -len(suffix)].split(".")
    if len(labels) != 2 or labels[1] not in records.namespaces:
        return None
    dashed = labels[0]
    if dashed.count("-") != 3 or "--" in dashed:
        return None
    try:
        ip = ipaddress.IPv4Address(dashed.replace("-", "."))
    except ValueError:
        return None
    return {"A": (RR(name + ".", "A", records.ttl, str(ip)),)}


def _zone_of(records: DnsRecords, name: str) -> str:
    return "in-addr.arpa" if name.endswith("in-addr.arpa") else records.domain


def _negative(records: DnsRecords, rcode: str, name: str) -> DnsAnswer:
    zone = _zone_of(records, name)
    soa = records.rrsets.get(zone, {}).get("SOA") or (records.soa(zone),)
    return DnsAnswer(rcode, authority=soa)


def _owned(rrs: tuple[RR, ...], owner: str) -> tuple[RR, ...]:
    """Answer with the owner name spelled as asked (CoreDNS keeps the query's case)."""
    return tuple(rr if rr.name == owner else RR(owner, rr.type, rr.ttl, rr.data) for rr in rrs)


def _additional(records: DnsRecords, answers: tuple[RR, ...]) -> tuple[RR, ...]:
    extra: list[RR] = []
    for rr in answers:
        target = ""
        if rr.type == "SRV":
            target = rr.data.rsplit(" ", 1)[-1]
        elif rr.type == "NS":
            target = rr.data
        if target:
            for a in records.rrsets.get(target.rstrip("."), {}).get("A", ()):
                if a not in extra:
                    extra.append(a)
    return tuple(extra)


def resolve(records: DnsRecords, qname: str, qtype: str) -> DnsAnswer:
    """Answer one question from ``records``. Names are case-insensitive, dot optional."""
    name = qname.rstrip(".").lower()
    owner = qname if qname.endswith(".") else qname + "."
    qtype = qtype.upper()
    domain = records.domain
    in_zone = name == domain or name.endswith("." + domain)
    rrsets = records.rrsets.get(name)
    if rrsets is None and not in_zone:
        return DnsAnswer("REFUSED", outside=True, authoritative=False)
    if qtype in ("AXFR", "IXFR"):
        return DnsAnswer("REFUSED")
    if rrsets is None:
        rrsets = _pod_record(records, name)
    if rrsets is None:
        if name in records.empty_nonterminals:
            return _negative(records, "NOERROR", name)
        return _negative(records, "NXDOMAIN", name)
    if qtype in rrsets:
        answers = _owned(rrsets[qtype], owner)
        return DnsAnswer("NOERROR", answers, additional=_additional(records, answers))
    if "CNAME" in rrsets:
        return _follow_cname(records, owner, rrsets["CNAME"], qtype)
    return _negative(records, "NOERROR", name)


def _follow_cname(records: DnsRecords, owner: str, cname: tuple[RR, ...], qtype: str) -> DnsAnswer:
    """The CNAME, then what its target answers when the target is in the zone."""
    chain = list(_owned(cname, owner))
    for _ in range(MAX_CNAME_CHAIN):
        target = chain[-1].data.rstrip(".").lower()
        nxt = records.rrsets.get(target)
        if nxt is None:
            break  # outside the zone or missing: the client's resolver chases it
        if qtype in nxt:
            chain.extend(nxt[qtype])
            break
        if "CNAME" not in nxt:
            break
        chain.extend(nxt["CNAME"])
    return DnsAnswer("NOERROR", tuple(chain))
