"""The sandbox as an unprivileged user: a user namespace maps root to ``nobody``.

The driver runs under the system Python (the venv lives under /root, which ``nobody``
cannot read) with the repository on PYTHONPATH: the sandbox needs only the standard
library.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from support.sandbox import (
    Driver,
    HostState,
    alive,
    holders_of,
    netns_inodes,
    now_ticks,
    require_kernel,
    wait_until,
)
from test_sandbox import PODS, build, run_in

pytestmark = pytest.mark.kernel

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534


def nobody_argv(root: Path) -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux)")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"needs {SYSTEM_PYTHON}")
    argv = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", SYSTEM_PYTHON]
    probe = subprocess.run(
        [*argv, "-c", "import podnet.dataplane.sandbox.namespaces"],
        env={"PYTHONPATH": str(root / "site"), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    # podnet and its dependencies are in a world-readable copy: failing to import is a bug
    assert probe.returncode == 0, f"nobody cannot import podnet: {probe.stderr.strip()}"
    return [*argv, "-m", "podnet.dataplane.sandbox.driver"]


def test_rootless_cluster_routes_and_dies_with_podnet(world_readable_podnet: Path) -> None:
    require_kernel()
    before = HostState.take()
    site = world_readable_podnet / "site"
    env = {"PYTHONPATH": str(site), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    d = Driver(nobody_argv(world_readable_podnet), env)
    try:
        build(d)
        pids = d.ok(op="pids")["pids"]
        # every process podnet started runs as nobody on the host
        for pid in pids.values():
            assert os.stat(f"/proc/{pid}").st_uid == NOBODY
        out = run_in(d, "default/a0", "busybox", "ping", "-c", "1", "-W", "2", PODS["web/b2"][1])
        assert "ttl=62" in out
        assert run_in(d, "web/a2", "hostname") == "db-0\n"
        assert run_in(d, "default/b0", "cat", "/etc/resolv.conf").startswith(
            "search default.svc.cluster.local "
        )
        inodes = netns_inodes(set(pids.values()))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
        down = now_ticks() + 1
        assert wait_until(lambda: not any(alive(p) for p in d.known_pids))
        assert wait_until(lambda: not holders_of(inodes, started_before=down))
        assert HostState.take() == before
    finally:
        d.kill()
