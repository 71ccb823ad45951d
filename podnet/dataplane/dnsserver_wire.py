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
    """:class:`podnet.control.dns.DnsAnswer` or the table resolver's ``Answer``."""

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
    if rtype == "SRV":
        prio, weight, port, target = data.split()
        return SRV(int(prio), int(weight), int(port), target)
    raise ValueError(f"unsupported record type {rtype}")


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
    if getattr(ans, "outside", False):
        if forwarder:
            return None, True
        reply.header.aa = 0
    reply.header.rcode = getattr(RCODE, ans.rcode, RCODE.SERVFAIL)
    for rr in ans.answers:
        try:
            reply.add_answer(
                RR(rr.name, getattr(QTYPE, rr.type), ttl=rr.ttl, rdata=_rdata(rr.type, rr.data))
            )
        except (ValueError, AttributeError):
            reply.header.rcode = RCODE.SERVFAIL
    if not ans.answers and reply.header.aa and ans.rcode in ("NOERROR", "NXDOMAIN"):
        reply.add_auth(soa(zone))
    packed = bytes(reply.pack())
    limit = max(UDP_DEFAULT, min(int(edns.rclass), 65535)) if edns is not None else UDP_DEFAULT
    if udp and len(packed) > limit:
        reply.rr, reply.auth = [], []
        reply.header.tc = 1
        packed = bytes(reply.pack())
    return packed, False
