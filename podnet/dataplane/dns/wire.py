"""DNS messages in and out (dnslib): the protocol edge of the cluster DNS server.

:func:`respond` parses a query, asks :func:`podnet.control.dns.resolve` (the decision)
and maps the typed :class:`~podnet.control.dns.DnsAnswer` onto the wire, as CoreDNS's
handler does (STYLE.md principle 9); FORMERR, NOTIMP and SERVFAIL are decided here only:

* authoritative answers (``aa``) for the cluster zone, ``ra`` set, ``rd`` echoed;
* NXDOMAIN and NODATA carry the zone's SOA from the answer's authority section
  (RFC 2308), additional addresses for SRV and NS targets;
* names outside the zone are forwarded, or REFUSED with no upstream, as CoreDNS answers
  a query no server block covers (``core/dnsserver/server.go`` ``ServeDNS``);
* an EDNS(0) OPT in the query is answered with one; UDP answers larger than the
  client's buffer (512 bytes without EDNS) are truncated with ``TC`` (RFC 1035 4.2.1,
  RFC 6891), and TCP carries the full answer.
"""

from __future__ import annotations

from collections.abc import Callable

from dnslib import (
    AAAA,
    CLASS,
    CNAME,
    EDNS0,
    NS,
    PTR,
    QTYPE,
    RCODE,
    RD,
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

from podnet.control.dns import RR as Record
from podnet.control.dns import DnsRecords, Rcode, resolve

UDP_DEFAULT = 512
EDNS_SIZE = 1232  # the DNS flag day 2020 value

RCODES: dict[Rcode, int] = {
    "NOERROR": RCODE.NOERROR,
    "NXDOMAIN": RCODE.NXDOMAIN,
    "REFUSED": RCODE.REFUSED,
}


def _soa(data: str) -> SOA:
    mname, rname, *times = data.split()
    return SOA(mname, rname, tuple(int(x) for x in times))


def _srv(data: str) -> SRV:
    prio, weight, port, target = data.split()
    return SRV(int(prio), int(weight), int(port), target)


# record type -> (dnslib type code, rdata from the record's ``data`` text)
RDATA: dict[str, tuple[int, Callable[[str], RD]]] = {
    "A": (QTYPE.A, A),
    "AAAA": (QTYPE.AAAA, AAAA),
    "CNAME": (QTYPE.CNAME, CNAME),
    "PTR": (QTYPE.PTR, PTR),
    "NS": (QTYPE.NS, NS),
    "TXT": (QTYPE.TXT, TXT),
    "SOA": (QTYPE.SOA, _soa),
    "SRV": (QTYPE.SRV, _srv),
}


def _rr(rr: Record) -> RR:
    """One record on the wire; ``ValueError`` for a type or data dnslib cannot carry."""
    try:
        code, rdata = RDATA[rr.type]
    except KeyError:
        raise ValueError(f"unsupported record type {rr.type}") from None
    return RR(rr.name, code, ttl=rr.ttl, rdata=rdata(rr.data))


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
    data: bytes, records: DnsRecords, *, udp: bool, forwarder: bool = False
) -> tuple[bytes | None, bool]:
    """The reply to one query from ``records``, and whether to forward it instead.

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
    ans = resolve(records, str(q.qname), QTYPE.get(q.qtype, str(q.qtype)))
    if ans.outside and forwarder:
        return None, True
    reply.header.aa = int(ans.authoritative and not ans.outside)
    reply.header.rcode = RCODES[ans.rcode]
    try:
        for rr in ans.answers:
            reply.add_answer(_rr(rr))
        for rr in ans.authority:
            reply.add_auth(_rr(rr))
        for rr in ans.additional:
            reply.add_ar(_rr(rr))
    except ValueError:  # data dnslib cannot encode: a bad records file
        reply.header.rcode = RCODE.SERVFAIL
        reply.rr, reply.auth = [], []
    packed = bytes(reply.pack())
    limit = max(UDP_DEFAULT, min(int(edns.rclass), 65535)) if edns is not None else UDP_DEFAULT
    if udp and len(packed) > limit:
        reply.rr, reply.auth, reply.ar = [], [], [r for r in reply.ar if r.rtype == QTYPE.OPT]
        reply.header.tc = 1
        packed = bytes(reply.pack())
    return packed, False
