"""``kubectl logs`` against ``podnet up`` with kubectl 1.20 and 1.37: ``-f`` streams the
lines as a running container writes them (not at its end), and ``--tail``,
``--timestamps``, ``--previous`` (after a crash), ``-c``, ``--all-containers`` and
``-l`` select what kubelet's ReadLogs would (pkg/kubelet/kuberuntime/logs/logs.go;
kubectl's pkg/cmd/logs/logs.go picks the pods and containers)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, Done, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel


def _ticker(prefix: str) -> list[str]:
    return ["sh", "-c", f"i=0; while true; do i=$((i+1)); echo {prefix}-$i; sleep 0.2; done"]


def _pods(mark: Path) -> str:
    # the crashing container leaves a mark on its first run where its restart sees it:
    # a POSIX message queue, which lives in the pod's IPC namespace (the pause's), as a
    # container no longer sees the host's files; the first run prints "first" and fails,
    # the restarted one prints "second"
    crash = (
        f"if [ -e {mark} ]; then echo second; exec sleep 3600; fi; touch {mark}; echo first; exit 1"
    )
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: tick, labels: {{app: tick}}}}
spec:
  containers:
  - {{name: a, image: busybox, command: {_ticker("a")}}}
  - {{name: b, image: busybox, command: {_ticker("b")}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: tick2, labels: {{app: tick}}}}
spec:
  containers:
  - {{name: c, image: busybox, command: {_ticker("c")}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: crash}}
spec:
  containers:
  - {{name: crash, image: busybox, command: [sh, -c, '{crash}']}}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    tmp = tmp_path_factory.mktemp("up-logs")
    with podnet_up(tmp) as cluster:
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok("apply", "-f", "-", stdin=_pods(Path("/dev/mqueue/crashed-once")))
        k.ok("wait", "--for=condition=Ready", "pod/tick", "pod/tick2", "--timeout=60s", timeout=70)

        def restarted() -> bool:
            pod = k.json("get", "pod", "crash")
            st = (pod.get("status") or {}).get("containerStatuses") or [{}]
            return bool(st[0].get("restartCount", 0) >= 1 and "running" in st[0].get("state", {}))

        eventually(restarted, 60, "the crash pod restarted and runs")
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _lines(out: str) -> list[str]:
    return out.splitlines()


def _consecutive(lines: list[str], prefix: str) -> None:
    nums = [int(ln.removeprefix(f"{prefix}-")) for ln in lines]
    assert all(ln.startswith(f"{prefix}-") for ln in lines), lines
    assert nums == list(range(nums[0], nums[0] + len(nums))), lines


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_logs_follow_streams_lines_as_written(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(up.kubeconfig.parent)}
    proc = subprocess.Popen(
        [str(k.binary), "logs", "-f", "--tail=1", "tick", "-c", "a"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    got: list[tuple[float, str]] = []
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + 10
        while len(got) < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                got.append((time.monotonic(), line.decode()))
        assert proc.poll() is None, "kubectl logs -f ended by itself"
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert len(got) >= 3, (got, err)
    _consecutive([text for _, text in got[:3]], "a")
    # written every 0.2 s: the third arrives well after the first (streamed, not batched)
    assert got[2][0] - got[0][0] >= 0.25, got


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_logs_tail_and_timestamps(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    lines = _lines(k.ok("logs", "tick", "-c", "a", "--tail=2"))
    assert len(lines) == 2, lines
    _consecutive(lines, "a")
    assert k.ok("logs", "tick", "-c", "a", "--tail=0") == ""
    before = datetime.now(UTC)
    lines = _lines(k.ok("logs", "tick", "-c", "b", "--tail=3", "--timestamps"))
    assert len(lines) == 3, lines
    for line in lines:
        m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z (b-\d+)", line)
        assert m, line
        at = datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC)
        assert abs((before - at).total_seconds()) < 30, line
    _consecutive([ln.split(" ", 1)[1] for ln in lines], "b")


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_logs_previous_after_a_crash(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    assert k.ok("logs", "crash") == "second\n"
    assert k.ok("logs", "crash", "--previous") == "first\n"
    assert k.ok("logs", "crash", "-p", "--timestamps").endswith("Z first\n")
    got = k("logs", "tick", "-c", "a", "--previous")
    assert got.rc != 0, got
    assert 'previous terminated container "a" in pod "tick" not found' in got.err, got


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_logs_containers_and_selectors(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    _consecutive(_lines(k.ok("logs", "tick", "-c", "b", "--tail=5")), "b")
    got = k("logs", "tick", "-c", "nope")
    assert got.rc != 0 and "nope" in got.err, got
    both = _lines(k.ok("logs", "tick", "--all-containers", "--tail=2"))
    assert sorted(ln.split("-")[0] for ln in both) == ["a", "a", "b", "b"], both
    tick = _lines(k.ok("logs", "-l", "app=tick", "--all-containers", "--tail=1"))
    assert sorted(ln.split("-")[0] for ln in tick) == ["a", "b", "c"], tick
    got = k("logs", "-l", "app=tick", "--tail=1")
    if version == "1.20":  # kubectl's own check: no default container before 1.21
        assert got.rc == 1 and "a container name must be specified for pod tick" in got.err, got
    else:  # the first container (kubectl.kubernetes.io/default-container unset)
        assert sorted(ln.split("-")[0] for ln in _lines(got.out)) == ["a", "c"], got
        assert 'Defaulted container "a" out of: a, b' in got.err, got


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_logs_follow_ends_when_the_container_exits(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    name = f"short-{version.replace('.', '-')}"
    k.ok(
        "run",
        name,
        "--image=busybox",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo one; sleep 3; echo two",
    )
    k.ok("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s", timeout=40)
    # kubelet's follow ends once the container is not running (logs.go isContainerRunning)
    assert k("logs", "-f", name, timeout=20) == Done(0, "one\ntwo\n", "")
