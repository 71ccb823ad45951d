"""DNS messages in and out (dnslib): the protocol edge of the cluster DNS server.

Decisions (which records, NXDOMAIN or NODATA) come from a resolver function; this
module only maps them to the wire, as CoreDNS's handler does (STYLE.md principle 9):

* authoritative answers (``aa``) for the cluster zone, ``ra`` set, ``rd`` echoed;
* negative answers carry the zone's SOA in the authority section, so clients cache
  them for its minimum TTL (RFC 2308; CoreDNS kubernetes plugin SOA with
  ``ns.dns.<zone>`` / ``hostmaster.<zone>``);
* names outside the cluster zone get REFUSED when no upstream is configured: CoreDNS
  answers REFUSED for a query no server block's zone covers
  (coredns ``core/dnsserver/server.go``, ``ServeDNS``: "no matching zone");
* an EDNS(0) OPT in the query is answered with one; UDP answers larger than the
  client's buffer (512 bytes without EDNS) are truncated with ``TC`` (RFC 1035 4.2.1,
  RFC 6891), and TCP carries the full answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dnslib import (
    AAAA,
    CLASS,
    CNAME,
    EDNS0,
    NS,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSError,
    DNSHeader,
    DNSQuestion,
    DNSRecord,
)

UDP_DEFAULT = 512
EDNS_SIZE = 1232  # the DNS flag day 2020 value


class AnswerLike(Protocol):
    """:class:`podnet.control.dns.lookup.DnsAnswer` or the table resolver's ``Answer``."""

    @property
    def rcode(self) -> str: ...

    @property
    def answers(self) -> tuple[Any, ...]: ...


Resolver = Callable[[str, str], AnswerLike]


def _rdata(rtype: str, data: str) -> Any:
    if rtype == "A":
        return A(data)
    if rtype == "AAAA":
        return AAAA(data)
    if rtype == "CNAME":
        return CNAME(data)
    if rtype == "PTR":
        return PTR(data)
    if rtype == "NS":
        return NS(data)
    if rtype == "TXT":
        return TXT(data)
    if rtype == "SOA":
        mname, rname, *times = data.split()
        return SOA(mname, rname, tuple(int(x) for x in times))
    if rtype == "SRV":
        prio, weight, port, target = data.split()
        return SRV(int(prio), int(weight), int(port), target)
    raise ValueError(f"unsupported record type {rtype}")


def _rr(rr: Any) -> RR:
    return RR(rr.name, getattr(QTYPE, rr.type), ttl=rr.ttl, rdata=_rdata(rr.type, rr.data))


def soa(zone: str, ttl: int = 5) -> RR:
    return RR(
        zone,
        QTYPE.SOA,
        ttl=ttl,
        rdata=SOA(f"ns.dns.{zone}", f"hostmaster.{zone}", (1, 7200, 1800, 86400, ttl)),
    )


def error_reply(data: bytes, rcode: int) -> bytes | None:
    """A header-only reply with ``rcode`` (FORMERR for junk); ``None`` if no ID to echo."""
    if len(data) < 12:
        return None
    h = DNSHeader(id=int.from_bytes(data[:2], "big"), qr=1, rcode=rcode)
    return bytes(DNSRecord(header=h).pack())


def parse(data: bytes) -> DNSRecord | None:
    try:
        return DNSRecord.parse(data)
    except (DNSError, ValueError, IndexError, KeyError):
        return None


def respond(
    data: bytes, resolver: Resolver, zone: str, *, udp: bool, forwarder: bool = False
) -> tuple[bytes | None, bool]:
    """The reply to one query and whether it is to be forwarded instead.

    ``(None, True)`` means "outside the cluster: forward it" (only when ``forwarder``).
    """
    req = parse(data)
    if req is None:
        return error_reply(data, RCODE.FORMERR), False
    hdr = req.header
    if hdr.opcode != 0:
        return error_reply(data, RCODE.NOTIMP), False
    if len(req.questions) != 1:
        return error_reply(data, RCODE.FORMERR), False
    q: DNSQuestion = req.q
    reply = DNSRecord(DNSHeader(id=hdr.id, qr=1, aa=1, ra=1, rd=hdr.rd), q=q)
    edns = next((r for r in req.ar if r.rtype == QTYPE.OPT), None)
    if edns is not None:
        reply.add_ar(EDNS0(udp_len=EDNS_SIZE))
    if q.qclass != CLASS.IN:
        reply.header.rcode = RCODE.REFUSED
        reply.header.aa = 0
        return bytes(reply.pack()), False
    qname = str(q.qname)
    ans = resolver(qname, QTYPE.get(q.qtype, str(q.qtype)))
    outside = getattr(ans, "outside", False)
    if outside and forwarder:
        return None, True
    reply.header.aa = int(bool(getattr(ans, "authoritative", True)) and not outside)
    reply.header.rcode = getattr(RCODE, ans.rcode, RCODE.SERVFAIL)
    authority = tuple(getattr(ans, "authority", ()))
    try:
        for rr in ans.answers:
            reply.add_answer(_rr(rr))
        for rr in authority:
            reply.add_auth(_rr(rr))
        for rr in getattr(ans, "additional", ()):
            reply.add_ar(_rr(rr))
    except (ValueError, AttributeError):
        reply.header.rcode = RCODE.SERVFAIL
        reply.rr, reply.auth = [], []
    negative = not ans.answers and ans.rcode in ("NOERROR", "NXDOMAIN")
    if negative and not authority and reply.header.aa:
        reply.add_auth(soa(zone))
    packed = bytes(reply.pack())
    limit = max(UDP_DEFAULT, min(int(edns.rclass), 65535)) if edns is not None else UDP_DEFAULT
    if udp and len(packed) > limit:
        reply.rr, reply.auth, reply.ar = [], [], [r for r in reply.ar if r.rtype == QTYPE.OPT]
        reply.header.tc = 1
        packed = bytes(reply.pack())
    return packed, False
