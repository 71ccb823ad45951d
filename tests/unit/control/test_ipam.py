"""PodIPAllocator: host-local style round-robin allocation per node /24."""

from __future__ import annotations

import pytest

from podnet.control.ipam import PodIPAllocator
from podnet.control.scheduler import make_nodes
from podnet.errors import ClusterError


def alloc(nodes: int = 1) -> PodIPAllocator:
    return PodIPAllocator(make_nodes(nodes))


def test_first_addresses_skip_network_and_gateway() -> None:
    a = alloc()
    assert [a.allocate(f"ns/p{i}", "node-0") for i in range(3)] == [
        "10.244.0.2",
        "10.244.0.3",
        "10.244.0.4",
    ]


def test_per_node_ranges() -> None:
    a = alloc(3)
    assert a.allocate("ns/x", "node-2") == "10.244.2.2"
    assert a.allocate("ns/y", "node-1") == "10.244.1.2"


def test_recreated_pod_gets_a_new_ip() -> None:
    a = alloc()
    first = a.allocate("default/web", "node-0")
    assert a.release("default/web") == first
    second = a.allocate("default/web", "node-0")
    assert second != first and second == "10.244.0.3"


def test_released_ip_reused_only_after_wrap() -> None:
    a = alloc()
    ips = [a.allocate(f"ns/p{i}", "node-0") for i in range(253)]
    assert ips[-1] == "10.244.0.254" and len(set(ips)) == 253
    a.release("ns/p10")  # 10.244.0.12
    assert a.allocate("ns/new", "node-0") == "10.244.0.12"


def test_exhaustion() -> None:
    a = alloc()
    for i in range(253):
        a.allocate(f"ns/p{i}", "node-0")
    with pytest.raises(ClusterError):
        a.allocate("ns/one-too-many", "node-0")


def test_idempotent_and_wrong_node() -> None:
    a = alloc(2)
    ip = a.allocate("ns/p", "node-0")
    assert a.allocate("ns/p", "node-0") == ip
    with pytest.raises(ClusterError):
        a.allocate("ns/p", "node-1")


@pytest.mark.parametrize(
    "ip", ["10.244.0.0", "10.244.0.1", "10.244.0.255", "10.244.1.5", "192.168.0.2"]
)
def test_reserve_rejects_non_pod_addresses(ip: str) -> None:
    with pytest.raises(ClusterError):
        alloc(2).reserve("ns/p", "node-0", ip)


def test_reserve_conflict_and_cursor() -> None:
    a = alloc()
    a.reserve("ns/a", "node-0", "10.244.0.7")
    with pytest.raises(ClusterError):
        a.reserve("ns/b", "node-0", "10.244.0.7")
    assert a.allocate("ns/c", "node-0") == "10.244.0.8"


def test_unknown_node() -> None:
    with pytest.raises(ClusterError):
        alloc().allocate("ns/p", "node-9")


def test_release_unknown_is_none() -> None:
    assert alloc().release("ns/ghost") is None
