"""metrics.k8s.io: quantities as apimachinery writes them, /proc stat parsing, rates
over two points as metrics-server's storage computes them, and the objects, lists and
Tables metrics-server serves, over a real in-memory registry."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from decimal import Decimal

import pytest

from podnet.apiserver import errors
from podnet.apiserver.metrics import proc, serve
from podnet.apiserver.metrics.quantity import binary_bytes, go_duration, milli, nanocores, parse
from podnet.apiserver.metrics.storage import Point, Sample, Storage
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_path
from podnet.apiserver.store.memory import MemoryStore


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (123456, "123456n"), (5_000_000, "5m"), (1_000_000_000, "1"), (1_500, "1500n")],
)
def test_nanocores_canonical(n: int, text: str) -> None:
    assert nanocores(n) == text
    assert parse(text) * 1_000_000_000 == n


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0"), (4096, "4Ki"), (1048576, "1Mi"), (1050624, "1026Ki"), (1000, "1000")]
)
def test_memory_canonical(n: int, text: str) -> None:
    assert binary_bytes(n) == text


def test_parse_and_milli() -> None:
    assert parse("64Mi") == 64 * 2**20
    assert parse("1e3") == 1000
    assert milli("250m") == 250 and milli("1") == 1000 and milli("0.0001") == 1
    assert parse("1.5") == Decimal("1.5")
    with pytest.raises(ValueError):
        parse("abc")


@pytest.mark.parametrize(
    ("s", "text"), [(15.012, "15.012s"), (10.0, "10s"), (65, "1m5s"), (0.5, "500ms"), (0, "0s")]
)
def test_go_duration(s: float, text: str) -> None:
    assert go_duration(s) == text


def test_parse_stat_command_with_spaces_and_parens() -> None:
    fields = ["S", "7"] + ["0"] * 9 + ["100", "50", "3", "2"] + ["0"] * 4 + ["400", "0", "5"]
    st = proc.parse_stat("42 (a b) c) " + " ".join(fields))
    assert st.ppid == 7
    assert st.cpu_ns == 155 * 1_000_000_000 // proc.TICKS
    assert st.rss == 5 * proc.PAGE
    assert st.start == 400 / proc.TICKS


def test_own_process_tree() -> None:
    table = proc.snapshot()
    kids = proc.children(table)
    used = proc.tree_usage(table, kids, os.getpid())
    assert used is not None and used[1] > 0
    assert proc.tree_usage(table, kids, -1) is None


def sample(pod: str, c: str, ts: float, start: float, cpu: int, mem: int = 4096) -> Sample:
    return Sample("default", pod, c, Point(ts, start, cpu, mem))


def test_rate_between_two_scrapes_and_fresh_container() -> None:
    s = Storage()
    # the first scrape: every container is one podnet started, its start the zero point
    s.store([sample("old", "c", 100.0, 10.0, 4_500_000_000)], 100.0)
    first = s.pod("default", "old")
    assert first is not None and first.nanocores == 50_000_000 and first.window == 90.0
    s.store([sample("old", "c", 110.0, 10.0, 14_500_000_000)], 110.0)
    u = s.pod("default", "old")
    assert u is not None and u.nanocores == 1_000_000_000 and u.window == 10.0
    # a container started after the last scrape: its start is the zero point
    s.store(
        [
            sample("old", "c", 120.0, 10.0, 14_500_000_000),
            sample("new", "c", 120.0, 116.0, 2 * 10**9),
        ],
        120.0,
    )
    u = s.pod("default", "new")
    assert u is not None and u.nanocores == 500_000_000 and u.window == 4.0
    assert s.pod("default", "old") is not None and s.pod("default", "old").nanocores == 0  # type: ignore[union-attr]


def test_restart_and_partial_scrape() -> None:
    s = Storage()
    s.store([sample("p", "a", 100.0, 10.0, 10**9)], 100.0)
    s.store([sample("p", "a", 110.0, 10.0, 2 * 10**9)], 110.0)
    # a partial scrape (new containers only) keeps the others' points
    s.store([sample("q", "b", 111.0, 110.5, 10**8)], 111.0, partial=True)
    assert s.pod("default", "p") is not None
    assert s.pod("default", "q") is not None
    # a restart (new start time) starts again from the new start
    s.store([sample("p", "a", 120.0, 118.0, 10**9)], 120.0)
    u = s.pod("default", "p")
    assert u is not None and u.nanocores == 500_000_000
    # a container gone from a full scrape is forgotten
    assert s.pod("default", "q") is None


def pod(name: str, node: str, labels: dict[str, str]) -> dict[str, object]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }


def test_serve_pods_nodes_and_tables() -> None:
    reg = Registry(MemoryStore())
    pods, nodes = by_path("", "v1", "pods"), by_path("", "v1", "nodes")
    assert pods is not None and nodes is not None
    reg.create(by_path("", "v1", "namespaces"), None, {"metadata": {"name": "default"}})  # type: ignore[arg-type]
    reg.create(nodes, None, {"metadata": {"name": "node-0", "labels": {"x": "y"}}})
    reg.create(pods, "default", pod("a", "node-0", {"app": "a"}))
    reg.create(pods, "default", pod("b", "node-0", {"app": "b"}))
    s = Storage()
    with pytest.raises(errors.ApiError) as e:
        serve.get(s, reg, "pods", "default", "a")
    assert e.value.code == 404
    assert str(e.value) == 'podmetrics.metrics.k8s.io "default/a" not found'
    with pytest.raises(errors.ApiError) as e:
        serve.get(s, reg, "nodes", None, "node-0")
    assert str(e.value) == 'nodemetrics.metrics.k8s.io "node-0" not found'
    assert serve.list_items(s, reg, "pods", None, "", "") == []
    s.store([sample("a", "c", 100.0, 99.0, 10**8, 8192)], 100.0)
    s.store([sample("a", "c", 110.0, 99.0, 10**9 + 10**8, 8192)], 110.0)
    got = serve.get(s, reg, "pods", "default", "a")
    assert got["kind"] == "PodMetrics" and got["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert got["metadata"]["labels"] == {"app": "a"}
    assert got["window"] == "10s"
    assert got["containers"] == [{"name": "c", "usage": {"cpu": "100m", "memory": "8Ki"}}]
    assert [p["metadata"]["name"] for p in serve.list_items(s, reg, "pods", "default", "", "")] == [
        "a"
    ]
    assert serve.list_items(s, reg, "pods", "default", "app=b", "") == []
    node = serve.get(s, reg, "nodes", None, "node-0")
    assert node["usage"] == {"cpu": "100m", "memory": "8Ki"}
    assert [n["metadata"]["name"] for n in serve.list_items(s, reg, "nodes", None, "x=y", "")] == [
        "node-0"
    ]
    table = serve.table([got], "None", "v1")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    assert table["rows"] == [{"cells": ["a", "100m", "8Ki", "10s"]}]


def test_a_subtree_is_what_the_snapshot_holds_under_the_same_root() -> None:
    """Read through the children files, a process tree is the one the whole process
    table shows: the parent, both children and the grandchild, none else."""
    child = subprocess.Popen(
        ["sh", "-c", "sleep 30 & sh -c 'sleep 30; :' & wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            tree = proc.subtree(child.pid)
            table = proc.snapshot()
            kids = proc.children(table)
            expected, stack = set(), [child.pid]
            while stack:
                pid = stack.pop()
                expected.add(pid)
                stack.extend(kids.get(pid, ()))
            if (len(tree) == 4 and set(tree) == expected) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert set(tree) == expected and len(tree) == 4
        assert all(tree[p].ppid == table[p].ppid for p in tree)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the group: the sleeps too
        child.wait()
    assert proc.subtree(child.pid) == {}
