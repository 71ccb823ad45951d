"""A node's ``nft -i`` session killed under a running ``podnet run``.

The session is podnet's own long-lived nft process per node
(:mod:`podnet.dataplane.nft.session`). Killed (by its pid, found in the run's process
tree), it must be replaced and every table resynced by the next periodic sync
(kube-proxy's ``syncPeriod`` run), reported on stderr, and the run must go on: a later
change (the DNS pod restarting, which flips its readiness) is applied and lookups work.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.live import (
    DNS_LOOKUP_CLIENT,
    argv_of,
    descendants,
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
        # a change after the death: the DNS server restarts, its readiness flips
        servers = _pids(proc.pid, [b"podnet.dataplane.dns"])
        (dns,) = [p for p in servers if _ppid(p) not in servers]  # not its workers
        os.kill(dns, signal.SIGKILL)
        wait_for_line(proc.stderr, "restarting now", 5)
        wait_for_line(proc.stdout, "lookup-failed", 10)  # drain up to the outage (if any)
        wait_for_line(proc.stdout, "lookup-ok", 10)
        assert proc.poll() is None, "podnet run died"
        new = _pids(proc.pid, [b"nft", b"-i"])
        assert len(new) == 1 and new != sessions
