"""The cluster DNS server killed under a running ``podnet run`` comes back at once.

kubelet restarts a container's first crash without delay and backs off from the second
(10s, 20s, ... capped at 300s; kuberuntime_manager.go ``doBackOff``), and reports each
restart as an Event; podnet restarts the DNS pod's container the same way and says so on
stderr. The server is found in the run's own process tree (its argv names the DNS
module) and killed by pid, never by name.
"""

from __future__ import annotations

import os
import select
import signal
import time
from pathlib import Path
from typing import IO

import pytest
from support.live import descendants, require_live, running_cli, wait_for_line, write_manifest

pytestmark = pytest.mark.kernel

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command:
    - sh
    - -c
    - |
      while true; do
        if nslookup kube-dns.kube-system.svc.cluster.local >/dev/null 2>&1
        then echo lookup-ok; else echo lookup-failed; fi
        sleep 0.1
      done
"""


def _dns_server_pid(root: int) -> int:
    """The DNS pod's server among ``root``'s descendants (by argv, inside our tree)."""
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"podnet.dataplane.dns" in argv:
            return pid
    pytest.fail("no DNS server process under the podnet run")


def _drain(stream: IO[str] | None) -> None:
    """Discard what the child wrote so far, so later reads see only newer lines."""
    assert stream is not None
    fd = stream.fileno()
    while select.select([fd], [], [], 0.05)[0]:
        if not os.read(fd, 65536):
            return


def test_killed_dns_server_is_restarted_at_once_and_reported(tmp_path: Path) -> None:
    require_live()
    path = write_manifest(tmp_path, MANIFEST)
    with running_cli("run", "-f", str(path), "--timeout", "90") as proc:
        wait_for_line(proc.stdout, "lookup-ok", 30)
        pid = _dns_server_pid(proc.pid)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        _drain(proc.stdout)
        err = wait_for_line(proc.stderr, "restarting now", 5)
        assert any("container" in line and "exited" in line for line in err), err
        wait_for_line(proc.stdout, "lookup-ok", 10)
        took = time.monotonic() - killed
        assert took < 3.0, f"DNS answered again only after {took:.1f}s"
        assert _dns_server_pid(proc.pid) != pid
