"""Under a running ``podnet run``: the guard is there, and each repair is made and said.

One cluster: ``web`` admits only ``app: friend``, so the ``intruder`` pod's requests are
denied. Then, behind podnet's back and from the node's netns: an extra (veth . IP) pair
slipped into the guard set (as an attacker with the node's NET_ADMIN would, to let
its spoofed source through), the policy table deleted (the intruder gets through
until podnet notices, then is denied again), and the node's ``nft -i`` killed. Each is
reported on stderr and repaired; the run goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.live import (
    argv_of,
    descendants,
    drain,
    require_live,
    running_cli,
    wait_for_line,
    write_manifest,
)

pytestmark = pytest.mark.kernel

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-friends}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: friend}}}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: intruder}
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
        if wget -qO- http://web >/dev/null 2>&1
        then echo conn-open; else echo conn-denied; fi
        sleep 0.1
      done
"""


def _session(root: int) -> int:
    """The run's one ``nft -i`` (one node), found by pid in its own process tree."""
    sessions = [p for p in descendants(root) if argv_of(p)[-2:] == [b"nft", b"-i"]]
    assert len(sessions) == 1, sessions
    return sessions[0]


def _nft(session: int, *argv: str) -> str:
    """nft in the node's netns (the session's), as someone else would run it."""
    return subprocess.run(
        ["nsenter", "-t", str(session), "-n", "nft", *argv],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _guard_keys(session: int) -> list[str]:
    out = json.loads(_nft(session, "-j", "list", "set", "inet", "podnet-guard", "pod-sources"))
    (found,) = [o["set"] for o in out["nftables"] if "set" in o]
    return [json.dumps(e) for e in found.get("elem", ())]


def test_each_repair_under_podnet_run_is_made_and_reported(tmp_path: Path) -> None:
    require_live()
    path = write_manifest(tmp_path, MANIFEST)
    with running_cli("run", "-f", str(path), "--deny", "reject", "--timeout", "120") as proc:
        wait_for_line(proc.stdout, "conn-denied", 30)
        session = _session(proc.pid)
        keys = _guard_keys(session)
        assert len(keys) == 3, keys  # web, intruder and the DNS pod
        wait_for_line(proc.stdout, "conn-denied", 3)  # a drift check has run since

        _nft(session, "add", "element", "inet", "podnet-guard", "pod-sources",
             '{ "pn00000000" . 10.244.0.250 }')  # fmt: skip
        # "was changed by someone else" (the listing hash) or, when the edit came
        # before the first hash since the last sync, the set's extra element named
        err = wait_for_line(proc.stderr, "node node-0: table inet podnet-guard ", 10)
        assert "resyncing every table" in err[-1]
        deadline = time.monotonic() + 3  # the report comes just before the full sync
        while sorted(_guard_keys(session)) != sorted(keys) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(_guard_keys(session)) == sorted(keys)

        _nft(session, "delete", "table", "inet", "podnet-policy")
        wait_for_line(proc.stdout, "conn-open", 5)  # the deletion took effect
        wait_for_line(proc.stderr, "table inet podnet-policy was deleted by someone else", 10)
        drain(proc.stdout)
        lines = wait_for_line(proc.stdout, "conn-denied", 3)
        assert len(lines) <= 3, lines  # at most a connection already under way

        os.kill(session, signal.SIGKILL)
        err = wait_for_line(proc.stderr, f"nft -i (pid {session}) killed by signal 9", 10)
        assert "started a new one" in err[-1] and "resyncing every table" in err[-1]
        assert _session(proc.pid) != session
        drain(proc.stdout)
        wait_for_line(proc.stdout, "conn-denied", 3)
        assert proc.poll() is None, "podnet run died"
