"""Cluster DNS answers, table-driven from the Kubernetes DNS specification 1.1.0
(github.com/kubernetes/dns docs/specification.md) and CoreDNS kubernetes plugin
behaviour (NODATA vs NXDOMAIN, endpoint names, pods insecure)."""

from __future__ import annotations

import pytest
from support.ctl_builders import pod, svc

from podnet.control.cluster import build_cluster
from podnet.control.dns import DnsRecords, build_records, empty_records, resolve
from podnet.control.dns.records import canonical, in_zone
from podnet.model.cluster import ClusterState
from podnet.model.objects import ContainerPort, Manifests, Namespace, ServicePort

PG = ContainerPort(5432, "TCP", "pg")


def state() -> ClusterState:
    sts = tuple(
        pod(f"db-{i}", {"app": "db"}, ports=(PG,), hostname=f"db-{i}", subdomain="db")
        for i in range(2)
    )
    return build_cluster(
        Manifests(
            namespaces=(Namespace("other", {"kubernetes.io/metadata.name": "other"}),),
            pods=(
                *sts,
                pod("web", {"app": "web"}, ports=(ContainerPort(8080, "TCP", "http"),)),
                pod("bare", {"app": "bare"}),
            ),
            services=(
                svc(
                    "my-service",
                    {"app": "web"},
                    ports=(
                        ServicePort(80, "http", name="http"),
                        ServicePort(81, 8080, "UDP", "q"),
                    ),
                ),
                svc(
                    "db",
                    {"app": "db"},
                    ports=(ServicePort(5432, "pg", name="pg"),),
                    cluster_ip="None",
                ),
                svc("bare", {"app": "bare"}, cluster_ip="None"),
                svc("empty", {"app": "nothing"}, cluster_ip="None"),
                svc("portless", {"app": "bare"}, cluster_ip="None", ports=()),
                svc("ext", type="ExternalName", external_name="my.database.example.com", ports=()),
                svc(
                    "alias",
                    type="ExternalName",
                    external_name="my-service.default.svc.cluster.local",
                    ports=(),
                ),
            ),
        )
    )


STATE = state()
RECORDS: DnsRecords = build_records(STATE)


def ip(key: str) -> str:
    p = STATE.pod(key)
    assert p is not None and p.ip is not None
    return p.ip


def dashed(key: str) -> str:
    return ip(key).replace(".", "-")


Z = "cluster.local"
MY = f"my-service.default.svc.{Z}"
DB = f"db.default.svc.{Z}"

# (qname, qtype, rcode, answer data sorted)
TABLE: list[tuple[str, str, str, list[str]]] = [
    # 2.3.1 A record for a ClusterIP service
    (MY, "A", "NOERROR", ["10.96.0.11"]),
    (MY + ".", "A", "NOERROR", ["10.96.0.11"]),
    ("MY-SERVICE.Default.SVC.Cluster.Local.", "A", "NOERROR", ["10.96.0.11"]),
    (f"kubernetes.default.svc.{Z}", "A", "NOERROR", ["10.96.0.1"]),
    (f"kube-dns.kube-system.svc.{Z}", "A", "NOERROR", ["10.96.0.10"]),
    # 2.3.2 SRV for named ports
    (f"_http._tcp.{MY}", "SRV", "NOERROR", [f"0 100 80 {MY}."]),
    (f"_q._udp.{MY}", "SRV", "NOERROR", [f"0 100 81 {MY}."]),
    (f"_http._udp.{MY}", "SRV", "NXDOMAIN", []),  # wrong protocol
    (f"_nope._tcp.{MY}", "SRV", "NXDOMAIN", []),
    (MY, "SRV", "NOERROR", [f"0 50 80 {MY}.", f"0 50 81 {MY}."]),
    (
        f"_dns._udp.kube-dns.kube-system.svc.{Z}",
        "SRV",
        "NOERROR",
        [f"0 100 53 kube-dns.kube-system.svc.{Z}."],
    ),
    # 2.3.3 PTR for the ClusterIP
    ("11.0.96.10.in-addr.arpa.", "PTR", "NOERROR", [MY + "."]),
    ("1.0.96.10.in-addr.arpa", "PTR", "NOERROR", [f"kubernetes.default.svc.{Z}."]),
    # 2.4.1 headless: one A per ready endpoint
    (DB, "A", "NOERROR", sorted([ip("default/db-0"), ip("default/db-1")])),
    (f"db-0.{DB}", "A", "NOERROR", [ip("default/db-0")]),
    (f"db-1.{DB}", "A", "NOERROR", [ip("default/db-1")]),
    (f"db-2.{DB}", "A", "NXDOMAIN", []),
    # 2.4.2 SRV per endpoint, target the endpoint's hostname
    (
        f"_pg._tcp.{DB}",
        "SRV",
        "NOERROR",
        sorted([f"0 50 5432 db-0.{DB}.", f"0 50 5432 db-1.{DB}."]),
    ),
    # 2.4.3 PTR for endpoints with hostnames
    (
        ".".join(reversed(ip("default/db-0").split("."))) + ".in-addr.arpa",
        "PTR",
        "NOERROR",
        [f"db-0.{DB}."],
    ),
    # headless without hostnames: dashed IP names (CoreDNS endpointHostname)
    (f"bare.default.svc.{Z}", "A", "NOERROR", [ip("default/bare")]),
    (f"{dashed('default/bare')}.bare.default.svc.{Z}", "A", "NOERROR", [ip("default/bare")]),
    # endpoint names work for ClusterIP services too (CoreDNS findServices)
    (f"{dashed('default/web')}.{MY}", "A", "NOERROR", [ip("default/web")]),
    # headless without ports still publishes its addresses
    (f"portless.default.svc.{Z}", "A", "NOERROR", [ip("default/bare")]),
    (f"portless.default.svc.{Z}", "SRV", "NOERROR", []),
    # headless without endpoints does not exist
    (f"empty.default.svc.{Z}", "A", "NXDOMAIN", []),
    # ExternalName -> CNAME (outside target not chased; inside target chased)
    (f"ext.default.svc.{Z}", "A", "NOERROR", ["my.database.example.com."]),
    (f"ext.default.svc.{Z}", "CNAME", "NOERROR", ["my.database.example.com."]),
    (f"alias.default.svc.{Z}", "A", "NOERROR", ["10.96.0.11", MY + "."]),
    # pods insecure
    (f"10-244-0-99.default.pod.{Z}", "A", "NOERROR", ["10.244.0.99"]),
    (f"1-2-3-4.other.pod.{Z}", "A", "NOERROR", ["1.2.3.4"]),
    (f"1-2-3-4.missing.pod.{Z}", "A", "NXDOMAIN", []),
    (f"1-2-3.default.pod.{Z}", "A", "NXDOMAIN", []),
    (f"1-2-3-999.default.pod.{Z}", "A", "NXDOMAIN", []),
    (f"10-244-0-99.default.pod.{Z}", "AAAA", "NOERROR", []),
    # NODATA: existing names with other types, and empty non-terminals
    (MY, "AAAA", "NOERROR", []),
    (MY, "TXT", "NOERROR", []),
    (DB, "AAAA", "NOERROR", []),
    (f"default.svc.{Z}", "A", "NOERROR", []),
    (f"other.svc.{Z}", "A", "NOERROR", []),
    (f"default.pod.{Z}", "A", "NOERROR", []),
    (f"svc.{Z}", "A", "NOERROR", []),
    (f"pod.{Z}", "A", "NOERROR", []),
    (Z, "A", "NOERROR", []),
    # NXDOMAIN: missing service, namespace, or malformed names
    (f"nope.default.svc.{Z}", "A", "NXDOMAIN", []),
    (f"my-service.nons.svc.{Z}", "A", "NXDOMAIN", []),
    (f"my-service.other.svc.{Z}", "A", "NXDOMAIN", []),  # the namespace exists
    (f"nons.svc.{Z}", "A", "NXDOMAIN", []),
    (f"my-service.default.{Z}", "A", "NXDOMAIN", []),
    (f"foo.{Z}", "A", "NXDOMAIN", []),
    (f"nope.default.svc.{Z}", "AAAA", "NXDOMAIN", []),
    # 2.1 schema version, apex
    (f"dns-version.{Z}", "TXT", "NOERROR", ["1.1.0"]),
    (Z, "NS", "NOERROR", [f"ns.dns.{Z}."]),
    (f"ns.dns.{Z}", "A", "NOERROR", ["10.96.0.10"]),
    (Z, "SOA", "NOERROR", [f"ns.dns.{Z}. hostmaster.{Z}. 1 7200 1800 86400 30"]),
]


@pytest.mark.parametrize(("qname", "qtype", "rcode", "data"), TABLE)
def test_dns_table(qname: str, qtype: str, rcode: str, data: list[str]) -> None:
    ans = resolve(RECORDS, qname, qtype)
    assert ans.rcode == rcode
    assert not ans.outside
    assert sorted(rr.data for rr in ans.answers) == sorted(data)


def test_negative_answers_carry_soa() -> None:
    for q in (f"nope.default.svc.{Z}", f"default.svc.{Z}"):
        (soa,) = resolve(RECORDS, q, "A").authority
        assert soa.type == "SOA" and soa.name == Z + "."


def test_ttls() -> None:
    assert {rr.ttl for rr in resolve(RECORDS, MY, "A").answers} == {30}
    assert resolve(RECORDS, f"dns-version.{Z}", "TXT").answers[0].ttl == 28800


def test_owner_name_keeps_query_case() -> None:
    (rr,) = resolve(RECORDS, "My-Service.default.svc.cluster.local", "A").answers
    assert rr.name == "My-Service.default.svc.cluster.local."


def test_srv_additional_has_addresses() -> None:
    ans = resolve(RECORDS, f"_pg._tcp.{DB}", "SRV")
    assert sorted(rr.data for rr in ans.additional) == sorted(
        [ip("default/db-0"), ip("default/db-1")]
    )


@pytest.mark.parametrize(
    ("qname", "qtype"),
    [
        ("example.com", "A"),
        ("kubernetes.io.", "AAAA"),
        ("1.1.168.192.in-addr.arpa", "PTR"),
        # a missing PTR inside the Service range falls through too (kubeadm's Corefile:
        # "fallthrough in-addr.arpa"); the old records-file resolver said NXDOMAIN
        ("9.9.9.10.in-addr.arpa", "PTR"),
    ],
)
def test_outside_zone(qname: str, qtype: str) -> None:
    ans = resolve(RECORDS, qname, qtype)
    assert ans.outside and ans.rcode == "REFUSED" and not ans.answers


def test_zone_transfer_refused() -> None:
    assert resolve(RECORDS, Z, "AXFR").rcode == "REFUSED"


def test_custom_domain() -> None:
    recs = build_records(STATE, domain="example.internal.")
    assert (
        resolve(recs, "my-service.default.svc.example.internal", "A").answers[0].data
        == "10.96.0.11"
    )
    assert resolve(recs, MY, "A").outside


def test_not_ready_endpoint_not_published() -> None:
    st = build_cluster(
        Manifests(
            pods=(pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"),),
            services=(svc("db", {"app": "db"}, cluster_ip="None"),),
        ),
        ready={"default/db-0": False},
    )
    assert resolve(build_records(st), DB, "A").rcode == "NXDOMAIN"


def test_all_rrs_flattens_everything() -> None:
    rrs = list(RECORDS.all_rrs())
    assert len(rrs) == sum(len(v) for t in RECORDS.rrsets.values() for v in t.values())
    assert (MY + ".", "A", 30, "10.96.0.11") in rrs


def test_empty_records_are_a_zone_with_no_objects() -> None:
    recs = empty_records("example.internal.")
    assert recs.domain == "example.internal"
    assert resolve(recs, "dns-version.example.internal", "TXT").answers[0].data == "1.1.0"
    assert resolve(recs, "svc.example.internal", "A").nodata
    assert resolve(recs, "a.default.svc.example.internal", "A").nxdomain
    assert resolve(recs, "1-2-3-4.default.pod.example.internal", "A").nxdomain  # no namespace
    assert resolve(recs, MY, "A").outside


@pytest.mark.parametrize(
    ("name", "key"), [("My-Service.Default.SVC.cluster.local.", MY), (MY, MY), (Z + ".", Z)]
)
def test_canonical(name: str, key: str) -> None:
    assert canonical(name) == key


@pytest.mark.parametrize(
    ("name", "zone", "inside"),
    [(MY, Z, True), (Z, Z, True), ("xcluster.local", Z, False), ("example.com", Z, False)],
)
def test_in_zone(name: str, zone: str, inside: bool) -> None:
    assert in_zone(name, zone) is inside
