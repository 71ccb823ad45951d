"""``diff``: connections and endpoints that change between two sets of manifests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podnet.analyze.diff import Diff, compute_diff
from podnet.analyze.diff_format import format_text, to_dict
from podnet.control.cluster import build_cluster
from podnet.manifests import load_paths
from podnet.model.cluster import ClusterState

SHOP = Path(__file__).resolve().parents[2] / "examples/shop"


def state(*dirs: str) -> ClusterState:
    return build_cluster(load_paths([str(SHOP / d) for d in dirs]))


@pytest.fixture(scope="module")
def broken() -> ClusterState:
    return state("base", "broken")


@pytest.fixture(scope="module")
def fixed() -> ClusterState:
    return state("base", "fixed")


def cut(key: str) -> str:
    return re.sub(r"-[a-z0-9]{6,10}-[a-z0-9]{5}$", "", key)


def owners(d: Diff, opened: bool) -> set[tuple[str, str, str]]:
    """(source prefix, destination prefix, port) with replica hashes cut off."""
    return {
        (cut(c.src), cut(c.dst), f"{c.port}/{c.protocol}")
        for c in d.connections
        if c.opened == opened
    }


def test_fix_opens_cache_dns_and_loadgen(broken: ClusterState, fixed: ClusterState) -> None:
    d = compute_diff(broken, fixed)
    assert d.changed
    assert owners(d, True) == {
        ("shop/api", "data/cache", "6379/TCP"),
        ("shop/api", "kube-system/coredns-0", "53/UDP"),
        ("shop/api", "kube-system/coredns-0", "53/TCP"),
        ("shop/loadgen", "shop/api", "8080/TCP"),
    }
    assert len(d.opened) == 8 and not d.closed  # two api replicas each
    cache = next(c for c in d.opened if c.dst.startswith("data/cache"))
    assert "data/cache-from-api" in cache.reason
    assert d.services_removed == ("shop/legacy", "shop/metrics")
    admin = next(e for e in d.endpoints if e.service == "shop/admin")
    assert len(admin.added) == 2 and not admin.removed


def test_reverse_change_closes_the_same(broken: ClusterState, fixed: ClusterState) -> None:
    d = compute_diff(fixed, broken)
    assert owners(d, False) == owners(compute_diff(broken, fixed), True)
    assert not d.opened
    assert "denied" in d.closed[0].reason
    assert d.services_added == ("shop/legacy", "shop/metrics")


def test_same_manifests_no_change(broken: ClusterState) -> None:
    d = compute_diff(broken, state("base", "broken"))
    assert not d.changed
    assert format_text(d).startswith("no changes")
    assert to_dict(d)["changed"] is False


def test_output_forms(broken: ClusterState, fixed: ClusterState) -> None:
    d = compute_diff(broken, fixed)
    for wide in (False, True):
        text = format_text(d, wide=wide)
        assert "+opened" in text and "Services removed:" in text
        assert all(len(line) <= 80 for line in text.splitlines())
    data = to_dict(d)
    assert len(data["opened"]) == 8 and data["closed"] == []
    assert set(data["opened"][0]) == {"src", "dst", "port", "protocol", "reason"}
