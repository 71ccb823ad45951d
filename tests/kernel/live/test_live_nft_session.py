"""A node's ``nft -i`` session killed under a running ``podnet run``.

The session is podnet's own long-lived nft process per node
(:mod:`podnet.dataplane.nft.session`). Killed (by its pid, found in the run's process
tree), it must be replaced and every table resynced by the next periodic sync
(kube-proxy's ``syncPeriod`` run), reported on stderr, and the run must go on: a later
change is applied through the new session and lookups work again.

The change is the DNS pod's readiness held false: its container killed twice, so the
second restart waits out kubelet's 10 s back-off (the first is immediate and may come back
before a paced sync sees the pod unready, leaving nothing to apply: the flake this test
once had). Its endpoint must leave the Service's backend map in the node's table, read
with ``nsenter`` into the session's network namespace, and come back after the back-off.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.live import (
    DNS_LOOKUP_CLIENT,
    argv_of,
    descendants,
    drain,
    require_live,
    running_cli,
    wait_for_line,
    write_manifest,
)

pytestmark = pytest.mark.kernel


def _pids(root: int, match: list[bytes]) -> list[int]:
    """``root``'s descendants whose argv ends with ``match`` (by pid, never by name)."""
    found = []
    for pid in descendants(root):
        argv = argv_of(pid)
        if not argv:
            continue
        tail = [os.path.basename(argv[-2]) if len(argv) >= 2 else b"", argv[-1]]
        if tail == match or any(m in argv for m in match if m.startswith(b"podnet.")):
            found.append(pid)
    return found


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


# kube-dns's ClusterIP in every podnet cluster (kubeadm's default: the 10th address of
# the Service CIDR) and its UDP port's backend in the proxy table's map elements
DNS_BACKEND = re.compile(r"10\.96\.0\.10 \. udp \. 53 \. \d+ : ([0-9.]+) \. 53")


def _dns_backends(session: int) -> list[str]:
    """kube-dns's UDP backends in the proxy table of ``session``'s node."""
    out = subprocess.run(
        ["nsenter", f"--net=/proc/{session}/ns/net", "nft", "list", "table", "ip", "podnet-proxy"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return DNS_BACKEND.findall(out)


def _dns_server(root: int, old: frozenset[int] = frozenset(), timeout: float = 5) -> int:
    """The DNS pod's server process (not its workers) in ``root``'s tree, none of the
    ``old`` generation's processes (a worker outliving its killed parent is not it)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        servers = set(_pids(root, [b"podnet.dataplane.dns"])) - old
        top = [p for p in servers if _ppid(p) not in servers]
        if len(top) == 1:
            return top[0]
        time.sleep(0.05)
    pytest.fail(f"no new DNS server within {timeout}s")


def _wait_backends(session: int, present: bool, timeout: float) -> list[str]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        backends = _dns_backends(session)
        if bool(backends) == present:
            return backends
        time.sleep(0.1)
    pytest.fail(f"kube-dns's backends {'never came' if present else 'stayed'}: {backends}")


def test_a_killed_nft_session_is_replaced_resynced_and_reported(tmp_path: Path) -> None:
    require_live()
    path = write_manifest(tmp_path, DNS_LOOKUP_CLIENT)
    with running_cli("run", "-f", str(path), "--timeout", "90") as proc:
        wait_for_line(proc.stdout, "lookup-ok", 30)
        sessions = _pids(proc.pid, [b"nft", b"-i"])
        assert len(sessions) == 1, sessions  # one node, one session
        os.kill(sessions[0], signal.SIGKILL)
        err = wait_for_line(proc.stderr, f"nft -i (pid {sessions[0]}) killed by signal 9", 3)
        assert "resyncing every table" in err[-1]
        # a change after the death: the DNS pod not ready for kubelet's 10 s back-off
        old = frozenset(_pids(proc.pid, [b"podnet.dataplane.dns"]))
        os.kill(_dns_server(proc.pid), signal.SIGKILL)
        wait_for_line(proc.stderr, "restarting now", 5)
        os.kill(_dns_server(proc.pid, old), signal.SIGKILL)
        wait_for_line(proc.stderr, "restarting in 10s (back-off)", 5)
        new = _pids(proc.pid, [b"nft", b"-i"])
        assert len(new) == 1 and new != sessions
        _wait_backends(new[0], present=False, timeout=5)  # applied: the endpoint is out
        _wait_backends(new[0], present=True, timeout=15)  # and back after the back-off
        drain(proc.stdout)
        wait_for_line(proc.stdout, "lookup-ok", 10)
        assert proc.poll() is None, "podnet run died"
        assert _pids(proc.pid, [b"nft", b"-i"]) == new
