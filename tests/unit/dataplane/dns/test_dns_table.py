"""The records-file resolver: NXDOMAIN vs NODATA, CNAME, pods insecure, outside names."""

from __future__ import annotations

from pathlib import Path

import pytest

from podnet.dataplane.dns import table as t

RRS = [
    t.RR("my-service.default.svc.cluster.local", "A", 30, "10.96.0.20"),
    t.RR("_http._tcp.my-service.default.svc.cluster.local", "SRV", 30,
         "0 100 80 my-service.default.svc.cluster.local"),
    t.RR("20.0.96.10.in-addr.arpa", "PTR", 30, "my-service.default.svc.cluster.local"),
    t.RR("ext.default.svc.cluster.local", "CNAME", 30, "my-service.default.svc.cluster.local"),
    t.RR("Web-0.Web.Default.svc.cluster.local.", "A", 30, "10.244.0.7"),
]  # fmt: skip
TABLE = t.build_table("cluster.local", RRS, ["default"])


@pytest.mark.parametrize(
    ("qname", "qtype", "rcode", "data"),
    [
        ("my-service.default.svc.cluster.local", "A", "NOERROR", ["10.96.0.20"]),
        ("MY-SERVICE.default.svc.cluster.local.", "A", "NOERROR", ["10.96.0.20"]),
        ("my-service.default.svc.cluster.local", "AAAA", "NOERROR", []),  # NODATA
        ("default.svc.cluster.local", "A", "NOERROR", []),  # empty non-terminal
        ("svc.cluster.local", "A", "NOERROR", []),
        ("cluster.local", "A", "NOERROR", []),
        ("nope.default.svc.cluster.local", "A", "NXDOMAIN", []),
        ("my-service.other.svc.cluster.local", "A", "NXDOMAIN", []),
        ("_http._tcp.my-service.default.svc.cluster.local", "SRV", "NOERROR",
         ["0 100 80 my-service.default.svc.cluster.local"]),
        ("20.0.96.10.in-addr.arpa", "PTR", "NOERROR", ["my-service.default.svc.cluster.local"]),
        ("9.9.9.10.in-addr.arpa", "PTR", "NXDOMAIN", []),
        ("ext.default.svc.cluster.local", "A", "NOERROR",
         ["my-service.default.svc.cluster.local", "10.96.0.20"]),
        ("web-0.web.default.svc.cluster.local", "A", "NOERROR", ["10.244.0.7"]),
        ("10-244-1-5.default.pod.cluster.local", "A", "NOERROR", ["10.244.1.5"]),
        ("10-244-1-5.nosuchns.pod.cluster.local", "A", "NXDOMAIN", []),
        ("10-244-1-999.default.pod.cluster.local", "A", "NXDOMAIN", []),
    ],
)  # fmt: skip
def test_resolve(qname: str, qtype: str, rcode: str, data: list[str]) -> None:
    ans = t.resolve(TABLE, qname, qtype)
    assert ans.rcode == rcode
    assert [r.data for r in ans.answers] == data
    assert not ans.outside


def test_outside_names_are_marked() -> None:
    ans = t.resolve(TABLE, "example.com", "A")
    assert ans.outside and ans.rcode == "REFUSED"


def test_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    t.write_atomic(path, t.to_json("cluster.local", RRS, ["default"]))
    table = t.load(path)
    assert t.resolve(table, "my-service.default.svc.cluster.local", "A").answers[0].data == (
        "10.96.0.20"
    )
    assert table.pod_namespaces == frozenset({"default"})


@pytest.mark.parametrize("text", ["", "{", '{"rrs": [["a", "A"]]}', '{"rrs": 5}', "[]"])
def test_bad_records_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(t.RecordsError):
        t.load(path)


def test_missing_records_file(tmp_path: Path) -> None:
    with pytest.raises(t.RecordsError):
        t.load(tmp_path / "absent.json")
