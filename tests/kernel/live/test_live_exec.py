"""``podnet exec`` against a running ``podnet run`` (both the real CLI)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.live import require_live, run_cli, running_cli, wait_for_line, write_manifest
from test_live_seed import LONG_RUNNING

from podnet.live.registry import running_clusters

pytestmark = pytest.mark.kernel


def test_exec_runs_in_the_pod_and_passes_the_exit_code(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(tmp_path, LONG_RUNNING)
    with running_cli("run", "-f", str(manifest)) as proc:
        wait_for_line(proc.stdout, "[default/client] fetched", 30)
        pid = str(proc.pid)
        assert proc.pid in running_clusters()
        res = run_cli("exec", "--cluster", pid, "client", "--", "hostname")
        assert (res.rc, res.out) == (0, "client\n"), res.err
        res = run_cli(
            "exec", "--cluster", pid, "client", "--", "sh", "-c",
            "wget -qO- http://web.default.svc.cluster.local | grep -c 'Welcome to nginx'",
        )  # fmt: skip
        assert (res.rc, res.out) == (0, "2\n"), res.err
        res = run_cli("exec", "--cluster", pid, "-n", "default", "web", "--", "sh", "-c", "exit 7")
        assert res.rc == 7
        # the pod's processes are visible: the cluster PID namespace was entered
        res = run_cli("exec", "--cluster", pid, "client", "--", "ps")
        assert "sleep 1000" in res.out, res.out
        res = run_cli("exec", "--cluster", pid, "nope", "--", "true")
        assert res.rc == 1
        assert res.err == 'Error from server (NotFound): pods "nope" not found\n', res.err
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    res = run_cli("exec", "--cluster", pid, "client", "--", "true")
    assert res.rc == 1
    assert res.err.startswith(f"error: no podnet run with pid {pid}"), res.err


def test_a_sigkilled_cluster_leaves_no_registration(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(tmp_path, LONG_RUNNING)
    with running_cli("run", "-f", str(manifest)) as proc:
        wait_for_line(proc.stderr, "cluster up in", 30)
        assert proc.pid in running_clusters()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    end = time.monotonic() + 5
    while proc.pid in running_clusters() and time.monotonic() < end:
        time.sleep(0.05)
    assert proc.pid not in running_clusters()


def test_exec_sh_on_a_terminal(tmp_path: Path) -> None:
    """``podnet exec POD`` with no command: an interactive sh on the caller's terminal."""
    import subprocess

    from support.live import podnet_argv, podnet_env
    from test_live_shell import _controlling_tty, _Pty

    require_live()
    manifest = write_manifest(tmp_path, LONG_RUNNING)
    with running_cli("run", "-f", str(manifest)) as proc:
        wait_for_line(proc.stdout, "[default/client] fetched", 30)
        master, slave = os.openpty()
        sh = subprocess.Popen(
            [*podnet_argv(), "exec", "--cluster", str(proc.pid), "client"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**podnet_env(), "TERM": "dumb", "PS1": "ignored $ "},
            cwd="/",
            start_new_session=True,
            preexec_fn=_controlling_tty,
        )
        os.close(slave)
        tty = _Pty(master)
        try:
            tty.send("echo marker-$(hostname)\n")
            tty.expect("marker-client")
            tty.send("exit 3\n")
            assert sh.wait(timeout=20) == 3
        finally:
            if sh.poll() is None:
                os.killpg(sh.pid, signal.SIGKILL)
                sh.wait()
            os.close(master)
