"""``kubectl top`` against ``podnet up`` with real crun busybox containers: a busy loop
shows about one core, an idle container about none, nodes the sum of their pods; before
a pod's first sample, the NotFound metrics-server gives. Both kubectl versions.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel
NEW = KUBECTL_VERSIONS[-1]

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: busy, labels: {load: busy}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: spin, image: busybox, command: [sh, -c, 'while :; do :; done']}
---
apiVersion: v1
kind: Pod
metadata: {name: idle, labels: {load: idle}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: nap, image: busybox, command: [sleep, '3600']}
  - {name: nap2, image: busybox, command: [sleep, '3600']}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("metrics")) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def busy_pid() -> int:
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if f.read().endswith(b"while :; do :; done\0"):
                        return int(name)
            except OSError:
                continue
    raise AssertionError("no busy loop running")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def busy_share(seconds: float) -> float:
    """Millicores the busy loop's process used over the next ``seconds``."""
    pid = busy_pid()
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(seconds)
    t1, c1 = time.monotonic(), cpu_ticks(pid)
    return (c1 - c0) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 1000


def top_lists(k: Kubectl, name: str) -> Callable[[], str]:
    def check() -> str:
        done = k("top", "pods")
        return done.out if done.rc == 0 and name in done.out else ""

    return check


def millicores(cell: str) -> int:
    assert cell.endswith("m"), cell
    return int(cell[:-1])


def test_top_busy_and_idle_pods(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    done = k("top", "pod", "nothere")
    assert done.rc != 0
    assert 'podmetrics.metrics.k8s.io "default/nothere" not found' in done.err
    k.ok("apply", "-f", "-", stdin=PODS)
    try:
        for version in KUBECTL_VERSIONS:
            out = eventually(top_lists(up.kubectl(version), "busy"), 30, f"{version} top pods")
            assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        # the busy loop's own CPU share, read from /proc beside podnet over 8 s: on a
        # loaded 2-core test machine it may get less than a whole core, and top must
        # say what it got (the window differs, so compare loosely)
        share = busy_share(8.0)
        out = eventually(
            lambda: (
                (d := k("top", "pods")).rc == 0
                and millicores(d.out.split("busy")[1].split()[0]) > 0.5 * share
                and d.out
            ),
            30,
            f"the busy pod near its measured share {share:.0f}m",
        )
        rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        assert 100 < millicores(rows["busy"][1]) < 1100, out
        assert millicores(rows["idle"][1]) <= 20, out
        assert rows["idle"][2].endswith("Mi"), out
        # --containers: one row per container
        out = k.ok("top", "pod", "idle", "--containers")
        assert out.splitlines()[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        assert sorted(line.split()[1] for line in out.splitlines()[1:]) == ["nap", "nap2"]
        # selectors and all namespaces
        out = k.ok("top", "pods", "-l", "load=idle")
        assert [line.split()[0] for line in out.splitlines()[1:]] == ["idle"]
        out = k.ok("top", "pods", "-A")
        assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
        # the raw objects, as metrics-server's
        raw = json.loads(
            k.ok("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
        )
        assert raw["kind"] == "PodMetrics" and raw["metadata"]["labels"] == {"load": "busy"}
        assert raw["window"].endswith("s") and raw["containers"][0]["name"] == "spin"
        assert raw["containers"][0]["usage"]["cpu"].endswith(("n", "u", "m"))
        assert raw["containers"][0]["usage"]["memory"].endswith(("Ki", "Mi"))
        # nodes: the sum of their pods; both kubectl versions
        for version in KUBECTL_VERSIONS:
            out = up.kubectl(version).ok("top", "nodes")
            head = out.splitlines()[0].split()
            assert head[:3] == ["NAME", "CPU(cores)", "CPU%"] or head[:2] == [
                "NAME",
                "CPU(cores)",
            ], out
            assert 100 < millicores(out.splitlines()[1].split()[1]) < 1200, out
        disc = json.loads(k.ok("get", "--raw", "/apis/metrics.k8s.io/v1beta1"))
        verbs = {r["name"]: r["verbs"] for r in disc["resources"]}
        assert verbs == {"nodes": ["get", "list"], "pods": ["get", "list"]}
    finally:
        k("delete", "pod", "busy", "idle", "--wait=false")


def test_top_answers_within_seconds_of_a_start(up: UpCluster) -> None:
    """The first point comes within about a second of a container's start (the
    scraper's check for new containers), not after a whole scrape interval."""
    k = up.kubectl(NEW)
    k.ok("run", "quick", "--image=busybox", "--restart=Never", "--", "sleep", "3600")
    try:
        eventually(
            lambda: k.json("get", "pod", "quick")["status"].get("phase") == "Running",
            30,
            "quick Running",
        )
        t0 = time.monotonic()
        eventually(lambda: k("top", "pod", "quick").rc == 0, 8, "top pod quick")
        assert time.monotonic() - t0 < 5
    finally:
        k("delete", "pod", "quick", "--wait=false")
