"""The pod network as ip-batch lines: names, addresses, routes (pure, no kernel)."""

from __future__ import annotations

import pytest

from podnet.dataplane.sandbox import links
from podnet.errors import ClusterError
from podnet.model.cluster import Node

NODES = [
    Node("node-0", {}, "10.244.0.0/24", "172.18.0.2"),
    Node("node-1", {}, "10.244.1.0/24", "172.18.0.3"),
    Node("node-2", {}, "10.244.2.0/24", "172.18.0.4"),
]


@pytest.mark.parametrize("key", ["default/a", "a-very-long-namespace-name/" + "p" * 253, "x/y"])
def test_iface_names_fit_ifnamsiz_and_are_stable(key: str) -> None:
    name = links.pod_iface(key)
    assert len(name.encode()) <= 15
    assert name.startswith("pn")
    assert name == links.pod_iface(key)
    assert links.node_iface(key).startswith("nd")


def test_iface_names_differ_per_key() -> None:
    names = {links.pod_iface(f"ns/pod-{i}") for i in range(5000)}
    assert len(names) == 5000
    links.check_unique_ifaces([f"ns/pod-{i}" for i in range(5000)], "pn")


def test_gateways() -> None:
    assert links.pod_gateway(NODES[1]) == "10.244.1.1"
    assert links.bridge_gateway() == "172.18.0.1"


@pytest.mark.parametrize(
    "ip",
    ["10.244.1.5", "10.244.0.1", "10.244.0.0", "10.244.0.255", "not-an-ip", "10.96.0.10"],
)
def test_bad_pod_ips(ip: str) -> None:
    with pytest.raises(ClusterError):
        links.check_pod_ip("default/a", ip, NODES[0])


def test_good_pod_ip() -> None:
    links.check_pod_ip("default/a", "10.244.0.2", NODES[0])
    links.check_pod_ip("default/a", "10.244.0.254", NODES[0])


def test_node_config_routes_every_other_node() -> None:
    lines = links.node_config_batch(NODES[1], NODES)
    assert "address add 172.18.0.3/24 dev eth0" in lines
    assert "route add default via 172.18.0.1 dev eth0" in lines
    assert "route add unreachable 10.244.1.0/24" in lines
    assert "route add 10.244.0.0/24 via 172.18.0.2 dev eth0" in lines
    assert "route add 10.244.2.0/24 via 172.18.0.4 dev eth0" in lines
    assert not any("10.244.1.0/24 via" in line for line in lines)
    # the link is up before a route names it (ip refuses routes on a down device)
    assert lines.index("link set eth0 up") < lines.index(
        "route add default via 172.18.0.1 dev eth0"
    )


def test_pod_attach_and_config() -> None:
    dev = links.pod_iface("web/a")
    attach = links.pod_attach_batch("web/a", "10.244.2.7", NODES[2], "/proc/42/ns/net")
    assert attach == [
        f"link add {dev} type veth peer name eth0 netns /proc/42/ns/net",
        f"link set {dev} alias web/a",
        f"address add 10.244.2.1/32 dev {dev}",
        f"link set {dev} up",
        f"route add 10.244.2.7/32 dev {dev} scope link",
    ]
    assert links.pod_config_batch("10.244.2.7", NODES[2]) == [
        "link set lo up",
        "address add 10.244.2.7/32 dev eth0",
        "link set eth0 up",
        "route add 10.244.2.1 dev eth0 scope link",
        "route add default via 10.244.2.1 dev eth0",
    ]


def test_root_and_node_attach() -> None:
    assert links.root_batch()[1:3] == [
        "link add pn-nodes type bridge",
        "address add 172.18.0.1/24 dev pn-nodes",
    ]
    dev = links.node_iface("node-0")
    assert links.node_attach_batch(NODES[0], "/proc/7/ns/net")[0] == (
        f"link add {dev} type veth peer name eth0 netns /proc/7/ns/net"
    )


def test_batch_text() -> None:
    assert links.batch_text(["a", "b"]) == "a\nb\n"
    assert links.batch_text([]) == ""
