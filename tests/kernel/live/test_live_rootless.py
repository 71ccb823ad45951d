"""The seed example through ``podnet run`` as an unprivileged user (rootless mode).

The test runs as root (CI) and drops to ``nobody`` with ``setpriv`` for the run; podnet
then enters a user namespace of its own (:mod:`podnet.dataplane.sandbox.namespaces`).

Why not ``.venv/bin/podnet``: the venv's interpreter lives under /root (mode 700), which
``nobody`` cannot read. The run uses the system Python 3.11 instead, with podnet and
the venv's site-packages hard-linked (or copied) into one world-readable temporary
directory. One directory for both matters: python-based images (the DNS pod, agnhost)
get ``PYTHONPATH`` = the directory holding the ``podnet`` package, and the DNS server
needs ``dnslib`` from there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.live import Result, require_live, wait_for_line
from support.paths import REPO
from support.sandbox import HostState

pytestmark = pytest.mark.kernel

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534
SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"


def _nobody_popen(root: Path, *args: str) -> subprocess.Popen[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux)")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"needs {SYSTEM_PYTHON} (the venv's interpreter is not readable by nobody)")
    argv = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(root / "site")}
    return subprocess.Popen(
        [*argv, SYSTEM_PYTHON, "-m", "podnet", *args],
        env=env,
        cwd=str(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _as_nobody(root: Path, *args: str, timeout: float = 90) -> Result:
    with _nobody_popen(root, *args) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    return Result(proc.returncode, out, err)


def test_seed_runs_rootless(world_readable_podnet: Path) -> None:
    require_live()
    before = HostState.take()
    root = world_readable_podnet
    probe = _as_nobody(root, "--version", timeout=30)
    if probe.rc != 0:
        pytest.skip(f"nobody cannot run podnet from {root}: {probe.err.strip()[-500:]}")
    t0 = time.monotonic()
    res = _as_nobody(root, "run", "-f", str(root / "seed.yaml"), "--timeout", "60")
    if res.rc != 0 and "cannot create the cluster namespaces" in res.err:
        pytest.skip(f"no unprivileged user namespaces here: {res.err.strip()[-300:]}")
    assert res.rc == 0, res.err + res.out
    assert any("Welcome to nginx!" in ln for ln in res.pod_lines("default/pod-a")), res.out
    assert "2 of 2 server pod(s) listening" in res.err  # the DNS pod too
    assert time.monotonic() - t0 < 30
    assert HostState.take() == before


def test_exec_into_a_rootless_cluster(world_readable_podnet: Path) -> None:
    """``podnet exec`` as the same unprivileged user enters the cluster's user
    namespace first (the pod's namespaces belong to it)."""
    require_live()
    root = world_readable_podnet
    manifest = root / "web.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\n"
        "spec: {containers: [{name: nginx, image: nginx}]}\n"
    )
    manifest.chmod(0o644)
    proc = _nobody_popen(root, "run", "-f", str(manifest), "--timeout", "60")
    with proc:  # closes its pipes however the test ends
        try:
            wait_for_line(proc.stderr, "server pod(s) listening", 30)
            script = (
                "hostname; wget -qO- http://localhost:80 >/dev/null 2>&1; ip -4 -o addr show eth0"
            )
            argv = ("exec", "--cluster", str(proc.pid), "web", "--", "sh", "-c", script)
            res = _as_nobody(root, *argv)
            assert res.rc == 0, res.err
            assert res.out.splitlines()[0] == "web"
            assert "10.244." in res.out
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
