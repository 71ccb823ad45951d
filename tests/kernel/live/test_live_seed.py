"""``podnet run`` end to end, through the real CLI in a subprocess: the seed example,
the output contract, and teardown on every way out (normal exit, Ctrl-C, SIGTERM,
SIGKILL) leaving the host exactly as it was."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.live import (
    descendants,
    require_live,
    run_cli,
    running_cli,
    wait_for_line,
    wait_gone,
    write_manifest,
)
from support.paths import REPO
from support.sandbox import HostState, netns_inodes, ns_mounted

from podnet.live.statedir import base_dir

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"

LONG_RUNNING = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'wget -qO- http://web >/dev/null && echo fetched; sleep 1000']
"""


def test_seed_pod_a_prints_the_nginx_welcome_page() -> None:
    require_live()
    res = run_cli("run", "-f", str(SEED), "--timeout", "60")
    assert res.rc == 0, res.err
    assert any("Welcome to nginx!" in ln for ln in res.pod_lines("default/pod-a")), res.out
    # pod-b is a server: its lines (nginx's start-up notices, pod-a's request) are
    # folded by default and counted (--follow pod-b shows them: test_runout_live.py).
    assert res.pod_lines("default/pod-b") == []
    assert "nginx pods (1): " in res.err
    # stdout is pod output only; progress is on stderr, without tracebacks.
    assert all(ln.startswith("[") for ln in res.out.splitlines()), res.out
    assert "podnet: cluster up in" in res.err
    assert "default/pod-a/client exited 0" in res.err
    assert "Traceback" not in res.err


def test_normal_exit_leaves_nothing_behind() -> None:
    require_live()
    before = HostState.take()
    with running_cli("run", "-f", str(SEED), "--timeout", "60") as proc:
        wait_for_line(proc.stderr, "server pod(s) listening", 30)
        started = descendants(proc.pid)
        inodes = netns_inodes(set(started))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(started) >= 5, started  # init, node, 3 pauses, containers
    assert wait_gone(started) == []
    assert HostState.take() == before
    # No namespace of ours is pinned by a mount (``ip netns add`` would be): other
    # suites add named netns concurrently, so ``ip netns list`` itself is not compared.
    assert ns_mounted(inodes) == []
    assert list(base_dir().glob(f"podnet-{proc.pid}-*")) == []  # its scratch dir too


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_signal_tears_down_in_order(tmp_path: Path, sig: int, code: int) -> None:
    require_live()
    before = HostState.take()
    manifest = write_manifest(tmp_path, LONG_RUNNING)
    with running_cli("run", "-f", str(manifest)) as proc:
        wait_for_line(proc.stdout, "[default/client] fetched", 30)
        started = descendants(proc.pid)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert f"{signal.Signals(sig).name} received; tearing down" in err
    assert "torn down in" in err
    assert "Traceback" not in err
    assert wait_gone(started) == []
    assert HostState.take() == before


def test_sigkill_of_podnet_leaves_nothing_behind(tmp_path: Path) -> None:
    require_live()
    before = HostState.take()
    manifest = write_manifest(tmp_path, LONG_RUNNING)
    with running_cli("run", "-f", str(manifest)) as proc:
        wait_for_line(proc.stdout, "[default/client] fetched", 30)
        started = descendants(proc.pid)
        inodes = netns_inodes(set(started))
        os.kill(proc.pid, signal.SIGKILL)  # the podnet process alone, not its group
        proc.wait()
    assert wait_gone(started, timeout=10) == []
    assert HostState.take() == before
    # No namespace of ours is pinned by a mount (``ip netns add`` would be): other
    # suites add named netns concurrently, so ``ip netns list`` itself is not compared.
    assert ns_mounted(inodes) == []
    # The scratch directory, which no kernel object ties to podnet, is removed by the
    # cluster init on podnet's death (podnet.dataplane.sandbox.cluster_init), at once.
    end = time.monotonic() + 2
    while list(base_dir().glob(f"podnet-{proc.pid}-*")) and time.monotonic() < end:
        time.sleep(0.02)
    assert list(base_dir().glob(f"podnet-{proc.pid}-*")) == []
    assert run_cli("run", "-f", str(SEED), "--timeout", "60").rc == 0


def test_exit_code_is_the_failing_clients(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(
        tmp_path,
        """\
apiVersion: v1
kind: Pod
metadata: {name: ok}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [sh, -c, 'echo fine']}]
---
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [sh, -c, 'echo oops; exit 3']}]
""",
    )
    res = run_cli("run", "-f", str(manifest), "--timeout", "60")
    assert res.rc == 1
    assert res.pod_lines("default/ok") == ["fine"]
    assert res.pod_lines("default/bad") == ["oops"]
    assert "default/bad/c exited 3" in res.err


def test_timeout_with_clients_still_running_is_exit_1(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(
        tmp_path,
        """\
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  containers: [{name: c, image: busybox, command: [sleep, '1000']}]
""",
    )
    res = run_cli("run", "-f", str(manifest), "--timeout", "2")
    assert res.rc == 1
    assert "still running: default/slow" in res.err


def test_closed_stdout_ends_the_run_quietly(tmp_path: Path) -> None:
    """``podnet run ... | head -1``: the reader goes away; podnet tears down, exits 0."""
    require_live()
    before = HostState.take()
    manifest = write_manifest(tmp_path, LONG_RUNNING.replace("sleep 1000", "yes | head -50000"))
    with running_cli("run", "-f", str(manifest), "--timeout", "60") as proc:
        assert proc.stdout is not None
        wait_for_line(proc.stdout, "[default/", 30)
        started = descendants(proc.pid)
        proc.stdout.close()  # like head exiting after its first line
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == 0, err
    assert "Traceback" not in err
    assert "torn down in" in err
    assert wait_gone(started) == []
    assert HostState.take() == before


def test_two_clusters_run_side_by_side() -> None:
    """Same pod IPs, same ClusterIPs, same names: each cluster has its own namespaces,
    and nothing of either is in the host's (so they cannot collide)."""
    require_live()
    procs = [running_cli("run", "-f", str(SEED), "--timeout", "60") for _ in range(2)]
    with procs[0] as a, procs[1] as b:
        results = [p.communicate(timeout=60) for p in (a, b)]
        codes = [a.returncode, b.returncode]
    assert codes == [0, 0], results
    for out, _ in results:
        assert "[default/pod-a] <title>Welcome to nginx!</title>" in out


def test_a_crashing_server_does_not_stall_the_clients(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(
        tmp_path,
        """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - {name: c, image: busybox, command: [sh, -c, 'echo bad config; exit 2'],
     ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [echo, hello]}]
""",
    )
    res = run_cli("run", "-f", str(manifest), "--timeout", "60")
    assert res.rc == 0, res.err
    assert "default/web: a container exited before listening" in res.err
    assert res.pod_lines("default/client") == ["hello"]
    at = float(res.err.split("default/client/c exited 0 at ")[1].split("s")[0])
    assert at < 8.0, res.err  # not the 10 s bound on waiting for servers
