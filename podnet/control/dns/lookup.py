"""The one cluster DNS decision: ``resolve(records, qname, qtype) -> DnsAnswer``.

Pure (no I/O, no clock), as CoreDNS's kubernetes plugin answers from its informer
caches (handler.go ``ServeDNS`` -> ``Records`` -> kubernetes.go ``findServices``);
``explain``, lint, the tests and the DNS pod (:mod:`podnet.dataplane.dns`) all call it.
Which names exist and why (Kubernetes DNS specification 1.1.0, kubeadm's Corefile with
``pods insecure``, ``fallthrough in-addr.arpa ip6.arpa``, ``ttl 30``; NXDOMAIN vs
NODATA) is written down in ``podnet/dataplane/dns/README.md``. The answer is plain data:
the DNS server maps it onto the wire, and only there do rcodes become header bits
(STYLE.md principle 9).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from podnet.control.dns.records import RR, DnsRecords, build_records, canonical, in_zone

__all__ = ["RR", "DnsAnswer", "DnsRecords", "Rcode", "build_records", "resolve"]

MAX_CNAME_CHAIN = 8

# The rcodes a decision can have; SERVFAIL, FORMERR and NOTIMP are the wire's own.
Rcode = Literal["NOERROR", "NXDOMAIN", "REFUSED"]


@dataclass(frozen=True)
class DnsAnswer:
    """An answer as plain data; the server maps it onto the wire (principle 9)."""

    rcode: Rcode
    answers: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()  # the zone's SOA on NXDOMAIN and NODATA (RFC 2308)
    additional: tuple[RR, ...] = ()  # addresses of SRV and NS targets
    outside: bool = False  # not ours: forward upstream if possible, else REFUSED
    authoritative: bool = True

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


def _negative(records: DnsRecords, rcode: Rcode, name: str) -> DnsAnswer:
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
    name = canonical(qname)
    owner = qname if qname.endswith(".") else qname + "."
    qtype = qtype.upper()
    rrsets = records.rrsets.get(name)
    if rrsets is None and not in_zone(name, records.domain):
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
        target = canonical(chain[-1].data)
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
