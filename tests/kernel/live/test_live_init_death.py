"""The cluster init dies under a running ``podnet run`` (issue 14): the kernel SIGKILLs
every node and pod with it, so podnet must say so at once, tear down and fail, instead
of "serving" a dead cluster until ``--timeout``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.live import (
    descendants,
    require_live,
    running_cli,
    wait_for_line,
    wait_gone,
    write_manifest,
)
from support.sandbox import HostState

from podnet.live.statedir import base_dir

pytestmark = pytest.mark.kernel

SERVERS_ONLY = """\
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
"""


def cluster_init_of(podnet: int) -> int:
    """The child of ``podnet`` that is pid 1 of its own PID namespace (NSpid ends in 1)."""
    found = []
    for pid in descendants(podnet):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/status") as f:
                nspids = next(ln.split()[1:] for ln in f if ln.startswith("NSpid:"))
        except (OSError, StopIteration):
            continue
        if ppid == podnet and len(nspids) > 1 and nspids[-1] == "1":
            found.append(pid)
    assert len(found) == 1, found
    return found[0]


def test_killing_the_cluster_init_ends_the_run_at_once(tmp_path: Path) -> None:
    require_live()
    before = HostState.take()
    manifest = write_manifest(tmp_path, SERVERS_ONLY)
    with running_cli("run", "-f", str(manifest), "--timeout", "120") as proc:
        wait_for_line(proc.stderr, "serving until --timeout", 30)
        started = descendants(proc.pid)
        init = cluster_init_of(proc.pid)
        killed = time.monotonic()
        os.kill(init, signal.SIGKILL)
        assert proc.stderr is not None
        rc = proc.wait(timeout=10)
        took = time.monotonic() - killed
        err = proc.stderr.read()
    assert rc == 1, err
    assert took < 5.0, err
    assert f"the cluster init (pid {init}) died" in err
    assert "torn down in" in err
    assert "Traceback" not in err
    assert wait_gone(started) == []
    assert HostState.take() == before
    assert list(base_dir().glob(f"podnet-{proc.pid}-*")) == []
