"""``diff``: connections and endpoints that change between two sets of manifests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.analyze.diff import Diff, compute_diff
from podnet.analyze.diff_format import format_text, to_dict
from podnet.control.cluster import build_cluster
from podnet.manifests import load_paths
from podnet.model.cluster import ClusterState

SHOP = REPO / "examples/shop"


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
    assert set(data["opened"][0]) == {
        "from", "to", "port", "protocol", "reason", "was", "denied_by"
    }  # fmt: skip


def test_template_change_matches_renamed_pods(tmp_path: Path) -> None:
    """A changed template renames every pod (new hash); they are still matched by owner."""
    doc = (SHOP / "base" / "shop.yaml").read_text()
    (tmp_path / "shop.yaml").write_text(
        doc.replace("tier: backend", "tier: backend\n        v: two")
    )
    for name in ("namespaces.yaml", "data.yaml", "monitoring.yaml"):
        (tmp_path / name).write_text((SHOP / "base" / name).read_text())
    old = state("base")
    new = build_cluster(load_paths([str(tmp_path)]))
    assert {p.key for p in old.pods} != {p.key for p in new.pods}  # api pods renamed
    d = compute_diff(old, new)
    assert not d.changed, d


def test_template_change_that_matters_is_shown_under_new_names(
    tmp_path: Path, broken: ClusterState
) -> None:
    base = SHOP / "base"
    doc = (base / "shop.yaml").read_text()
    # the api moves from 8080 to 9000: api-ingress (8080 only) no longer admits anyone
    # (agnhost listens where its flag says, declared or not, so move both)
    moved = doc.replace("containerPort: 8080", "containerPort: 9000")
    (tmp_path / "shop.yaml").write_text(moved.replace("--http-port=8080", "--http-port=9000"))
    for name in ("namespaces.yaml", "data.yaml", "monitoring.yaml"):
        (tmp_path / name).write_text((base / name).read_text())
    old = state("base")
    new = build_cluster(load_paths([str(tmp_path)]))
    d = compute_diff(old, new)
    assert not d.pods_added and not d.pods_removed
    api = next(e for e in d.endpoints if e.service == "shop/api")
    assert len(api.removed) == 2 and len(api.added) == 2
    new_keys = {p.key for p in new.pods}
    assert d.closed and all(c.src in new_keys and c.dst in new_keys for c in d.connections)
