"""The DNS pod serves control.dns's records: file round trip, same answers on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from podnet.control.cluster import build_cluster
from podnet.control.dns import DnsRecords, build_records, resolve
from podnet.dataplane.dns import records as rf
from podnet.dataplane.dns.server import DnsServer
from podnet.errors import RecordsError
from podnet.model.objects import Container, ContainerPort, Manifests, Pod, Service, ServicePort


def _state_records() -> DnsRecords:
    web = Pod("default", "pod-b", {"app": "my-app"}, (Container("server", "nginx",
              ports=(ContainerPort(80, name="http"),)),))  # fmt: skip
    db = Pod("shop", "db-0", {"app": "db"}, (Container("db", "busybox"),),
             hostname="db-0", subdomain="db")  # fmt: skip
    services = (
        Service("default", "my-service", selector={"app": "my-app"},
                ports=(ServicePort(80, 80, name="http"),)),
        Service("shop", "db", selector={"app": "db"}, cluster_ip="None",
                ports=(ServicePort(5432, 5432, name="pg"),)),
        Service("default", "ext", type="ExternalName", external_name="example.com"),
    )  # fmt: skip
    manifests = Manifests(pods=(web, db), services=services)
    return build_records(build_cluster(manifests))


@pytest.fixture(scope="module")
def records() -> DnsRecords:
    return _state_records()


def test_round_trip(tmp_path: Path, records: DnsRecords) -> None:
    path = tmp_path / "dns.json"
    rf.write(path, records)
    loaded = rf.load(path)
    assert loaded == records


def test_write_is_atomic_and_leaves_no_temporary(tmp_path: Path, records: DnsRecords) -> None:
    path = tmp_path / "dns.json"
    path.write_text("old")
    rf.write(path, records)
    assert rf.load(path) == records
    assert [p.name for p in tmp_path.iterdir()] == ["dns.json"]


def test_names_are_indexed_case_blind(tmp_path: Path, records: DnsRecords) -> None:
    # a hand-edited file may spell owners in any case; the index keys are canonical
    doc = json.loads(rf.to_json(records))
    doc["rrs"].append(["Web-0.Web.Default.svc.cluster.local.", "A", 30, "10.244.0.7"])
    loaded = rf.from_json(doc)
    ans = resolve(loaded, "web-0.web.default.svc.cluster.local", "A")
    assert [rr.data for rr in ans.answers] == ["10.244.0.7"]


GOOD = json.loads(rf.to_json(build_records(build_cluster(Manifests()))))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"format": "something/9"}',
        '{"domain": "cluster.local", "rrs": []}',  # no format: the old table format
        '{"format": "podnet.control.dns/1", "rrs": []}',
        json.dumps({**GOOD, "rrs": [["a", "A"]]}),
        json.dumps({**GOOD, "rrs": 5}),
        json.dumps({**GOOD, "ttl": "thirty"}),
        json.dumps({**GOOD, "namespaces": 7}),
    ],
)
def test_bad_records_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(RecordsError):
        rf.load(path)


def test_missing_records_file(tmp_path: Path) -> None:
    with pytest.raises(RecordsError):
        rf.load(tmp_path / "absent.json")


@pytest.fixture
def server(tmp_path: Path, records: DnsRecords) -> Iterator[DnsServer]:
    path = tmp_path / "dns.json"
    rf.write(path, records)
    srv = DnsServer(rf.load(path))
    srv.bind("127.0.0.1", 0)
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


NAMES = [
    ("my-service.default.svc.cluster.local", "A"),
    ("my-service.default.svc.cluster.local", "AAAA"),
    ("_http._tcp.my-service.default.svc.cluster.local", "SRV"),
    ("db.shop.svc.cluster.local", "A"),
    ("db-0.db.shop.svc.cluster.local", "A"),
    ("_pg._tcp.db.shop.svc.cluster.local", "SRV"),
    ("ext.default.svc.cluster.local", "A"),
    ("shop.svc.cluster.local", "A"),
    ("missing.default.svc.cluster.local", "A"),
    ("10-244-0-9.default.pod.cluster.local", "A"),
    ("dns-version.cluster.local", "TXT"),
    ("cluster.local", "SOA"),
    ("example.org", "A"),
]


@pytest.mark.parametrize(("name", "qtype"), NAMES)
def test_wire_matches_control_resolve(
    server: DnsServer, records: DnsRecords, name: str, qtype: str
) -> None:
    assert server.address is not None
    for tcp in (False, True):
        q = DNSRecord.question(name, qtype)
        r = DNSRecord.parse(q.send(*server.address, tcp=tcp, timeout=3))
        want = resolve(records, name, qtype)
        assert RCODE.get(r.header.rcode) == want.rcode
        got = sorted((QTYPE.get(a.rtype), str(a.rdata).rstrip(".").strip('"')) for a in r.rr)
        expected = sorted((a.type, a.data.rstrip(".")) for a in want.answers)
        if qtype == "SRV":  # dnslib renders SRV rdata with a trailing dot on the target
            got = [(t, d.replace(". ", " ")) for t, d in got]
        assert got == expected
        if want.nodata or want.nxdomain:
            assert any(a.rtype == QTYPE.SOA for a in r.auth)


def test_ptr_of_service_ip(server: DnsServer, records: DnsRecords) -> None:
    assert server.address is not None
    a = DNSRecord.parse(
        DNSRecord.question("my-service.default.svc.cluster.local").send(*server.address, timeout=3)
    )
    ip = str(a.rr[0].rdata)
    rev = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
    r = DNSRecord.parse(DNSRecord.question(rev, "PTR").send(*server.address, timeout=3))
    assert str(r.rr[0].rdata) == "my-service.default.svc.cluster.local."
