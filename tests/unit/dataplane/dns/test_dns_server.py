"""The DNS server over UDP and TCP on 127.0.0.1, queried with dnslib.

Loopback only; every server is closed by its fixture.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from podnet.dataplane.dns import table as t
from podnet.dataplane.dns.server import DnsServer

RRS = [
    t.RR("my-service.default.svc.cluster.local", "A", 30, "10.96.0.20"),
    t.RR("_http._tcp.my-service.default.svc.cluster.local", "SRV", 30,
         "0 100 80 my-service.default.svc.cluster.local"),
    t.RR("20.0.96.10.in-addr.arpa", "PTR", 30, "my-service.default.svc.cluster.local"),
    t.RR("dns-version.cluster.local", "TXT", 30, "1.1.0"),
    *(t.RR("big.default.svc.cluster.local", "A", 30, f"10.244.{i // 250}.{i % 250 + 1}")
      for i in range(100)),
]  # fmt: skip


@pytest.fixture
def server() -> Iterator[DnsServer]:
    srv = DnsServer(t.build_table("cluster.local", RRS, ["default"]))
    srv.bind("127.0.0.1", 0)
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


def ask(srv: DnsServer, name: str, qtype: str = "A", *, tcp: bool = False) -> DNSRecord:
    assert srv.address is not None
    q = DNSRecord.question(name, qtype)
    return DNSRecord.parse(q.send(srv.address[0], srv.address[1], tcp=tcp, timeout=3))


@pytest.mark.parametrize("tcp", [False, True])
def test_a_record(server: DnsServer, tcp: bool) -> None:
    r = ask(server, "my-service.default.svc.cluster.local", tcp=tcp)
    assert r.header.rcode == RCODE.NOERROR and r.header.aa == 1
    assert [str(a.rdata) for a in r.rr] == ["10.96.0.20"]
    assert r.rr[0].ttl == 30


def test_srv_ptr_txt(server: DnsServer) -> None:
    srv = ask(server, "_http._tcp.my-service.default.svc.cluster.local", "SRV")
    assert srv.rr[0].rdata.port == 80
    assert str(srv.rr[0].rdata.target) == "my-service.default.svc.cluster.local."
    ptr = ask(server, "20.0.96.10.in-addr.arpa", "PTR")
    assert str(ptr.rr[0].rdata) == "my-service.default.svc.cluster.local."
    txt = ask(server, "dns-version.cluster.local", "TXT")
    assert "1.1.0" in str(txt.rr[0].rdata)


def test_nxdomain_vs_nodata_carry_soa(server: DnsServer) -> None:
    nx = ask(server, "nope.default.svc.cluster.local")
    assert nx.header.rcode == RCODE.NXDOMAIN and not nx.rr
    assert nx.auth and nx.auth[0].rtype == QTYPE.SOA
    nodata = ask(server, "my-service.default.svc.cluster.local", "AAAA")
    assert nodata.header.rcode == RCODE.NOERROR and not nodata.rr
    assert nodata.auth[0].rtype == QTYPE.SOA


def test_outside_names_refused_fast(server: DnsServer) -> None:
    r = ask(server, "example.com")
    assert r.header.rcode == RCODE.REFUSED and not r.rr


def test_case_is_echoed_and_id_patched_from_cache(server: DnsServer) -> None:
    assert server.address is not None
    for qid in (1, 2, 3):
        q = DNSRecord.question("My-Service.default.svc.cluster.local")
        q.header.id = qid
        r = DNSRecord.parse(q.send(*server.address, timeout=3))
        assert r.header.id == qid
        assert str(r.q.qname) == "My-Service.default.svc.cluster.local."
        assert [str(a.rdata) for a in r.rr] == ["10.96.0.20"]


def test_big_answer_truncated_on_udp_full_on_tcp(server: DnsServer) -> None:
    udp = ask(server, "big.default.svc.cluster.local")
    assert udp.header.tc == 1 and not udp.rr
    tcp = ask(server, "big.default.svc.cluster.local", tcp=True)
    assert tcp.header.tc == 0 and len(tcp.rr) == 100


def test_edns_answer_fits_in_bigger_buffer(server: DnsServer) -> None:
    assert server.address is not None
    q = DNSRecord.question("big.default.svc.cluster.local")
    from dnslib import EDNS0

    q.add_ar(EDNS0(udp_len=4096))
    r = DNSRecord.parse(q.send(*server.address, timeout=3))
    assert r.header.tc == 0 and len(r.rr) == 100
    assert any(a.rtype == QTYPE.OPT for a in r.ar)


def test_set_records_swaps_atomically(server: DnsServer) -> None:
    assert [str(a.rdata) for a in ask(server, "my-service.default.svc.cluster.local").rr] == [
        "10.96.0.20"
    ]
    server.set_records(
        t.build_table("cluster.local", [t.RR("my-service.default.svc.cluster.local", "A", 30,
                                             "10.96.0.99")])
    )  # fmt: skip
    assert [str(a.rdata) for a in ask(server, "my-service.default.svc.cluster.local").rr] == [
        "10.96.0.99"
    ]


def test_garbage_gets_formerr_or_nothing(server: DnsServer) -> None:
    assert server.address is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"\x12\x34" + b"\xff" * 20, server.address)
        reply = s.recv(512)
        assert reply[:2] == b"\x12\x34"
        assert reply[3] & 0x0F == RCODE.FORMERR
        s.sendto(b"\x01", server.address)  # too short to answer: dropped
        s.sendto(DNSRecord.question("my-service.default.svc.cluster.local").pack(), server.address)
        assert DNSRecord.parse(s.recv(512)).rr  # the server is still alive


def test_resolver_bug_is_servfail() -> None:
    def broken(_records: object, _qname: str, _qtype: str) -> t.Answer:
        raise KeyError("bug")

    with DnsServer(None, resolve_fn=broken) as srv:
        srv.bind("127.0.0.1", 0, tcp=False)
        srv.start()
        assert ask(srv, "a.cluster.local").header.rcode == RCODE.SERVFAIL


def test_forwarding_to_upstream_on_loopback() -> None:
    up_rr = [t.RR("example.com", "A", 60, "192.0.2.1")]
    with DnsServer(t.build_table("com", up_rr)) as upstream:
        up = upstream.bind("127.0.0.1", 0, tcp=False)
        upstream.start()
        table = t.build_table("cluster.local", RRS)
        with DnsServer(table, upstream=up) as srv:
            srv.bind("127.0.0.1", 0)
            srv.start()
            for tcp in (False, True):
                r = ask(srv, "example.com", tcp=tcp)
                assert [str(a.rdata) for a in r.rr] == ["192.0.2.1"]
            assert ask(srv, "my-service.default.svc.cluster.local").rr  # still local
            assert ask(srv, "nothing.com").header.rcode == RCODE.NXDOMAIN


def test_forwarding_to_dead_upstream_is_servfail() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))  # bound, never answers
        up = hole.getsockname()
        with DnsServer(t.build_table("cluster.local", RRS), upstream=up) as srv:
            srv.bind("127.0.0.1", 0, tcp=False)
            srv.start()
            assert ask(srv, "example.com").header.rcode == RCODE.SERVFAIL
