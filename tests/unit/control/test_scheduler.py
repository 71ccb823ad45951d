"""Nodes and placement."""

from __future__ import annotations

import pytest
from support.ctl_builders import pod

from podnet.control.scheduler import make_nodes, name_suffix, schedule
from podnet.errors import ClusterError


def test_nodes() -> None:
    nodes = make_nodes(3)
    assert [(n.name, n.pod_cidr, n.address) for n in nodes] == [
        ("node-0", "10.244.0.0/24", "172.18.0.2"),
        ("node-1", "10.244.1.0/24", "172.18.0.3"),
        ("node-2", "10.244.2.0/24", "172.18.0.4"),
    ]
    assert nodes[1].labels == {"kubernetes.io/hostname": "node-1", "kubernetes.io/os": "linux"}


@pytest.mark.parametrize("count", [0, -1, 251])
def test_bad_node_count(count: int) -> None:
    with pytest.raises(ClusterError):
        make_nodes(count)


@pytest.mark.parametrize(
    ("selector", "node"),
    [
        ({}, "node-0"),
        ({"kubernetes.io/hostname": "node-2"}, "node-2"),
        ({"kubernetes.io/os": "linux"}, "node-0"),
        ({"kubernetes.io/os": "windows"}, None),
        ({"disktype": "ssd"}, None),
    ],
)
def test_node_selector(selector: dict[str, str], node: str | None) -> None:
    placed, warnings = schedule([pod("p", node_selector=selector)], make_nodes(3))
    assert placed[0].node == node
    assert bool(warnings) == (node is None)


def test_node_name_binds_and_counts() -> None:
    nodes = make_nodes(2)
    pods = [pod("a", node_name="node-0"), pod("b", node_name="node-0"), pod("c"), pod("d")]
    placed, _ = schedule(pods, nodes)
    assert {p.name: p.node for p in placed} == {
        "a": "node-0",
        "b": "node-0",
        "c": "node-1",
        "d": "node-1",
    }


def test_unknown_node_name() -> None:
    with pytest.raises(ClusterError):
        schedule([pod("a", node_name="worker")], make_nodes(1))


def test_spread_is_order_independent() -> None:
    pods = [pod(f"p{i}") for i in range(7)]
    a, _ = schedule(pods, make_nodes(3))
    b, _ = schedule(pods[::-1], make_nodes(3))
    assert {p.key: p.node for p in a} == {p.key: p.node for p in b}
    counts = [sum(1 for p in a if p.node == f"node-{i}") for i in range(3)]
    assert counts == [3, 2, 2]


def test_name_suffix() -> None:
    s = name_suffix("default", "ds", "node-0")
    assert len(s) == 5 and s == name_suffix("default", "ds", "node-0")
    assert s != name_suffix("default", "ds", "node-1")
    assert not set(s) & set("aeiou013")
