"""The DNS server over UDP and TCP on 127.0.0.1, queried with dnslib.

The records are control.dns's for a small cluster (a ClusterIP Service with a named
port, a headless one with 100 endpoints). Loopback only; every server is closed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from podnet.control.cluster import build_cluster
from podnet.control.dns import RR, DnsAnswer, DnsRecords, build_records
from podnet.control.dns.records import RRSets
from podnet.dataplane.dns import wire
from podnet.dataplane.dns.server import DnsServer
from podnet.model.objects import Container, Manifests, Pod, Service, ServicePort


def cluster_records(my_service_ip: str = "10.96.0.20") -> DnsRecords:
    big = tuple(
        Pod("default", f"big-{i}", {"app": "big"}, (Container("c", "busybox"),)) for i in range(100)
    )
    services = (
        Service("default", "my-service", cluster_ip=my_service_ip,
                ports=(ServicePort(80, 80, name="http"),)),
        Service("default", "big", selector={"app": "big"}, cluster_ip="None",
                ports=(ServicePort(80, 80),)),
    )  # fmt: skip
    return build_records(build_cluster(Manifests(pods=big, services=services)))


RECORDS = cluster_records()


@pytest.fixture
def server() -> Iterator[DnsServer]:
    srv = DnsServer(RECORDS)
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
    q.add_ar(EDNS0(udp_len=4096))
    r = DNSRecord.parse(q.send(*server.address, timeout=3))
    assert r.header.tc == 0 and len(r.rr) == 100
    assert any(a.rtype == QTYPE.OPT for a in r.ar)


def test_set_records_swaps_atomically(server: DnsServer) -> None:
    assert [str(a.rdata) for a in ask(server, "my-service.default.svc.cluster.local").rr] == [
        "10.96.0.20"
    ]
    server.set_records(cluster_records("10.96.0.99"))
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


def test_resolver_bug_is_servfail(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_records: DnsRecords, _qname: str, _qtype: str) -> DnsAnswer:
        raise KeyError("bug")

    monkeypatch.setattr(wire, "resolve", broken)
    with DnsServer(RECORDS) as srv:
        srv.bind("127.0.0.1", 0, tcp=False)
        srv.start()
        assert ask(srv, "a.cluster.local").header.rcode == RCODE.SERVFAIL


def test_forwarding_to_upstream_on_loopback() -> None:
    # the upstream: another podnet DNS server, serving a zone "com" with one name
    www: RRSets = {"example.com": {"A": (RR("example.com.", "A", 60, "192.0.2.1"),)}}
    with DnsServer(DnsRecords("com", 60, www, frozenset(), frozenset())) as upstream:
        up = upstream.bind("127.0.0.1", 0, tcp=False)
        upstream.start()
        with DnsServer(RECORDS, upstream=up) as srv:
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
        with DnsServer(RECORDS, upstream=up) as srv:
            srv.bind("127.0.0.1", 0, tcp=False)
            srv.start()
            assert ask(srv, "example.com").header.rcode == RCODE.SERVFAIL


@pytest.mark.parametrize(("qtype", "data"), [("A", "not-an-ip"), ("HINFO", "x86 linux")])
def test_record_the_wire_cannot_carry_is_servfail(qtype: str, data: str) -> None:
    odd: RRSets = {"odd.cluster.local": {qtype: (RR("odd.cluster.local.", qtype, 30, data),)}}
    with DnsServer(DnsRecords("cluster.local", 30, odd, frozenset(), frozenset())) as srv:
        srv.bind("127.0.0.1", 0, tcp=False)
        srv.start()
        r = ask(srv, "odd.cluster.local", qtype)
        assert r.header.rcode == RCODE.SERVFAIL and not r.rr
