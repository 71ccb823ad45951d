"""``podnet run``'s control flow against a behavioural fake cluster (no kernel needed).

The run's core is real (store, Registry, controllers, kubelet); the cluster under it
is a fake without namespaces: pods get IPs from the real allocator, and its runtime
replays a script (pod name -> seconds until its containers exit, and the exit code)
through the same ``on_status`` callback the real runtime uses, and its
``run_until`` polls like the real one with a background driver. Exit codes, progress
lines, the timeout, signals, a failed background sync and a closed stdout are checked.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from podnet.control.cluster import build_cluster
from podnet.control.ipam import PodIPAllocator
from podnet.dataplane.images.registry import default_registry
from podnet.dataplane.runtime.pods import Runtime
from podnet.dataplane.runtime.state import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    TERMINATED,
    ContainerStatus,
    PodStatus,
)
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import ClusterError
from podnet.live.core.core import RunCluster
from podnet.live.registry import running_clusters
from podnet.live.run import run
from podnet.live.sync import ChangeTracker
from podnet.manifests import from_documents
from podnet.manifests.files import read_documents
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

# pod name -> (seconds after start until exit, exit code); absent: runs forever
Script = dict[str, tuple[float, int]]
SCRIPT: Script = {}
HOOKS: dict[str, Callable[[FakeCluster], None]] = {}


class FakeLoop:
    lock = threading.RLock()


class FakeRuntime:
    oci = None

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.due: list[tuple[float, Pod]] = []
        self.statuses: dict[str, PodStatus] = {}
        self.images = default_registry(cluster.state_dir / "images")
        self.loop = FakeLoop()

    def pods(self) -> list[str]:
        return sorted(self.statuses)

    def start(self, pod: Pod) -> None:
        running = tuple(ContainerStatus(c.name, RUNNING, "Started") for c in pod.containers)
        self._emit(PodStatus(pod.key, RUNNING, (), running))
        if pod.name in SCRIPT:
            self.due.append((time.monotonic() + SCRIPT[pod.name][0], pod))

    def _emit(self, status: PodStatus) -> None:
        self.statuses[status.key] = status
        if self.cluster.on_status is not None:
            self.cluster.on_status(status)

    def status(self, key: str) -> PodStatus:
        return self.statuses[key]

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            for item in [d for d in self.due if d[0] <= now]:
                self.due.remove(item)
                pod = item[1]
                code = SCRIPT[pod.name][1]
                cs = tuple(
                    ContainerStatus(c.name, TERMINATED, "Completed", code) for c in pod.containers
                )
                self._emit(PodStatus(pod.key, SUCCEEDED if code == 0 else FAILED, (), cs))
                if self.cluster.on_log is not None:
                    self.cluster.on_log(pod.key, f"bye {code}")
            if "tick" in HOOKS:
                HOOKS["tick"](self.cluster)
            if done():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.005)


class FakeSandbox:
    def pod_pid(self, key: str) -> int:
        return os.getpid()  # nothing of ours listens here: servers are "given up" on

    def add_pods(self, pods: list[Pod]) -> None:
        pass

    def pids(self) -> dict[str, int]:
        return {}


class FakeCluster(RunCluster):
    """LiveCluster's pod bookkeeping (IPs, the desired state) without a data plane:
    ``sync`` stays None, so every change counts as applied at once."""

    closed = 0

    def start(self) -> ClusterState:
        state = build_cluster(self.manifests, self.node_count)
        self.state = state
        self._tracker = ChangeTracker(state, {})
        self._allocator = PodIPAllocator.from_state(state)
        self.sandbox = cast(Sandbox, FakeSandbox())
        self.runtime = cast(Runtime, FakeRuntime(self))
        return state

    def start_pods(self, pods: list[Pod], log_dirs: Mapping[str, Path] | None = None) -> None:
        pods = self.held_back(pods, log_dirs)  # the clients wait for the run's tables
        self.state = self.desired()
        for pod in pods:
            runtime = cast(FakeRuntime, self.runtime)
            runtime.start(pod)
            if pod.name not in SCRIPT and pod.namespace == "kube-system":
                # the DNS pod "crashes": the run must not wait for it to listen
                cs = tuple(ContainerStatus(c.name, TERMINATED, "Error", 1) for c in pod.containers)
                runtime._emit(PodStatus(pod.key, FAILED, (), cs))

    def describe(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "pods": {}}

    def close(self) -> None:
        FakeCluster.closed += 1
        self._tmp.cleanup()


def _documents(path: Path) -> dict[str, Any]:
    docs = read_documents([str(path)])
    return {"manifests": from_documents(docs), "documents": docs}


def _manifests(tmp_path: Any, names: list[str]) -> dict[str, Any]:
    docs = [
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}}}\n"
        f"spec: {{containers: [{{name: c, image: busybox}}]}}\n"
        for n in names
    ]
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join(docs))
    return _documents(path)


@pytest.fixture(autouse=True)
def reset() -> None:
    SCRIPT.clear()
    HOOKS.clear()
    FakeCluster.closed = 0


def _run(tmp_path: Any, names: list[str], **kw: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(**_manifests(tmp_path, names), out=out, err=err, cluster_type=FakeCluster, **kw)
    assert FakeCluster.closed == 1
    assert os.getpid() not in running_clusters()  # the announcement is gone
    return code, out.getvalue(), err.getvalue()


def test_every_client_exits_0(tmp_path: Any) -> None:
    SCRIPT.update({"a": (0.01, 0), "b": (0.05, 0)})
    code, out, err = _run(tmp_path, ["a", "b"], timeout=10)
    assert code == 0
    assert "[default/a] bye 0" in out.splitlines()
    assert "podnet: cluster up in" in err
    assert "default/b/c exited 0 at" in err
    assert "kube-system/coredns-0: a container exited before listening" in err


def test_a_failing_client_makes_exit_1(tmp_path: Any) -> None:
    SCRIPT.update({"a": (0.01, 0), "b": (0.02, 3)})
    code, _, err = _run(tmp_path, ["a", "b"], timeout=10)
    assert code == 1
    assert "default/b/c exited 3" in err


def test_timeout_with_a_client_still_running(tmp_path: Any) -> None:
    SCRIPT.update({"a": (0.01, 0)})
    t0 = time.monotonic()
    code, _, err = _run(tmp_path, ["a", "forever"], timeout=0.5)
    assert code == 1
    assert "still running: default/forever" in err
    assert time.monotonic() - t0 < 5


def test_no_clients_serves_until_the_timeout(tmp_path: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: c, image: nginx}]}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    code = run(**_documents(path), out=out, err=err, timeout=0.3, cluster_type=FakeCluster)
    assert code == 0
    assert "no pod runs to completion" in err.getvalue()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_tears_down_with_128_plus_n(tmp_path: Any, sig: int, code: int) -> None:
    before = signal.getsignal(sig)
    HOOKS["tick"] = lambda cluster: os.kill(os.getpid(), sig)
    got, _, err = _run(tmp_path, ["forever"], timeout=10)
    assert got == code
    assert f"{signal.Signals(sig).name} received; tearing down" in err
    assert signal.getsignal(sig) == before  # the caller's handler is back


def test_a_failed_background_sync_is_raised(tmp_path: Any) -> None:
    def fail(cluster: FakeCluster) -> None:
        cluster.failure = ClusterError("nft refused the update")

    HOOKS["tick"] = fail
    with pytest.raises(ClusterError):
        _run(tmp_path, ["forever"], timeout=10)


class _ClosedPipe(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError


def test_a_closed_stdout_ends_the_run_with_0(tmp_path: Any) -> None:
    SCRIPT.update({"a": (0.01, 0)})
    err = io.StringIO()
    code = run(
        **_manifests(tmp_path, ["a", "forever"]),
        out=_ClosedPipe(),
        err=err,
        timeout=10,
        cluster_type=FakeCluster,
    )
    assert code == 0
    assert FakeCluster.closed == 1
