"""ClusterIP and NodePort allocation, built-in Services."""

from __future__ import annotations

import pytest
from support.ctl_builders import svc

from podnet.control.services import add_defaults, assign_cluster_ips, assign_node_ports
from podnet.errors import ClusterError
from podnet.model.objects import Service, ServicePort


def ips(services: list[Service]) -> dict[str, str | None]:
    full, _ = add_defaults(services, [])
    return {s.key: s.cluster_ip for s in assign_cluster_ips(full)}


def test_dynamic_ips_sorted_from_11() -> None:
    got = ips([svc("zeta"), svc("alpha"), svc("mid", namespace="b")])
    assert got["b/mid"] == "10.96.0.11"  # sorted by namespace, then name
    assert got["default/alpha"] == "10.96.0.12"
    assert got["default/zeta"] == "10.96.0.13"
    assert got["default/kubernetes"] == "10.96.0.1"
    assert got["kube-system/kube-dns"] == "10.96.0.10"


def test_given_ip_honoured_and_skipped() -> None:
    got = ips([svc("alpha"), svc("beta", cluster_ip="10.96.0.11")])
    assert got["default/beta"] == "10.96.0.11"
    assert got["default/alpha"] == "10.96.0.12"


@pytest.mark.parametrize(
    "given",
    [
        "10.95.255.1",  # below the range
        "10.112.0.1",  # above 10.96.0.0/12
        "10.96.0.0",  # network address
        "not-an-ip",
        "10.96.0.1",  # the kubernetes Service's
        "10.96.0.10",  # kube-dns's
    ],
)
def test_bad_or_reserved_cluster_ip(given: str) -> None:
    with pytest.raises(ClusterError):
        ips([svc("s", cluster_ip=given)])


def test_conflict_names_both() -> None:
    with pytest.raises(ClusterError) as err:
        ips([svc("one", cluster_ip="10.100.0.5"), svc("two", cluster_ip="10.100.0.5")])
    assert "default/one" in str(err.value) and "default/two" in str(err.value)


def test_headless_and_external_name_get_no_ip() -> None:
    got = ips([svc("h", cluster_ip="None"), svc("x", type="ExternalName", external_name="a.b")])
    assert got["default/h"] == "None"
    assert got["default/x"] is None


def test_user_defined_builtin_kept() -> None:
    dns = svc("kube-dns", {"k8s-app": "kube-dns"}, namespace="kube-system")
    full, pods = add_defaults([dns], [])
    assert [s.key for s in full].count("kube-system/kube-dns") == 1
    assert {s.key: s.cluster_ip for s in assign_cluster_ips(full)}[
        "kube-system/kube-dns"
    ] == "10.96.0.10"
    assert [p.key for p in pods] == ["kube-system/coredns-0"]


def np(name: str, *ports: ServicePort) -> Service:
    return svc(name, {"a": "b"}, ports=ports, type="NodePort")


def node_ports(services: list[Service]) -> dict[str, list[int | None]]:
    return {s.key: [p.node_port for p in s.ports] for s in assign_node_ports(services)}


def test_node_ports_deterministic() -> None:
    got = node_ports(
        [
            np("b", ServicePort(80, 80), ServicePort(443, 443, name="https")),
            np("a", ServicePort(80, 80, node_port=30000)),
            svc("c"),
        ]
    )
    assert got == {"default/b": [30001, 30002], "default/a": [30000], "default/c": [None]}


def test_same_port_two_protocols_share_node_port() -> None:
    got = node_ports(
        [np("dns", ServicePort(53, 53, "UDP", "dns"), ServicePort(53, 53, "TCP", "dns-tcp"))]
    )
    assert got == {"default/dns": [30000, 30000]}


@pytest.mark.parametrize(
    "services",
    [
        [
            np("a", ServicePort(80, 80, node_port=30080)),
            np("b", ServicePort(80, 80, node_port=30080)),
        ],
        [np("a", ServicePort(80, 80, node_port=29999))],
        [np("a", ServicePort(80, 80, node_port=32768))],
        [np("a", ServicePort(80, 80, node_port=30080), ServicePort(81, 81, node_port=30080))],
    ],
)
def test_node_port_errors(services: list[Service]) -> None:
    with pytest.raises(ClusterError):
        assign_node_ports(services)


def test_session_affinity_carried() -> None:
    s = svc("sticky", {"a": "b"}, session_affinity="ClientIP", session_affinity_timeout=60)
    (out,) = assign_cluster_ips([s])
    assert out.session_affinity == "ClientIP" and out.session_affinity_timeout == 60
