"""Someone deletes podnet's policy table inside a node under a running ``podnet run``.

The paced sync's periodic run checks the tables it applied (:mod:`podnet.live.sync`,
``ClusterSync._drift``), as kube-proxy's iptables mode watches its canary chains for a
flush: the deletion is reported on stderr and the table replaced, so a connection the
NetworkPolicy denies is denied again within about two seconds. The node is entered
with ``nsenter`` by the pid of a process in its network namespace (the node holder),
found in the run's own process tree.
"""

from __future__ import annotations

import os
import subprocess
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
metadata: {name: web-isolated}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
---
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
        if wget -qO- http://web >/dev/null 2>&1
        then echo conn-open; else echo conn-denied; fi
        sleep 0.1
      done
"""


def _node_holder(root: int) -> int:
    """The oldest process of ``root``'s tree in the node's network namespace (that of
    the node's ``nft -i`` session), other than the session itself."""
    tree = sorted(descendants(root))
    sessions = [p for p in tree if argv_of(p)[-2:] == [b"nft", b"-i"]]
    assert len(sessions) == 1, sessions
    netns = os.readlink(f"/proc/{sessions[0]}/ns/net")
    for pid in tree:
        if pid != sessions[0] and os.readlink(f"/proc/{pid}/ns/net") == netns:
            return pid
    pytest.fail("no node holder in the run's process tree")


def test_a_deleted_policy_table_is_noticed_and_restored(tmp_path: Path) -> None:
    require_live()
    path = write_manifest(tmp_path, MANIFEST)
    with running_cli("run", "-f", str(path), "--deny", "reject", "--timeout", "90") as proc:
        wait_for_line(proc.stdout, "conn-denied", 30)
        holder = _node_holder(proc.pid)
        subprocess.run(
            ["nsenter", "-t", str(holder), "-n", "nft", "delete", "table", "inet", "podnet-policy"],
            check=True,
        )
        wait_for_line(proc.stdout, "conn-open", 5)  # the deletion took effect
        err = wait_for_line(proc.stderr, "table inet podnet-policy was deleted", 3)
        assert "resyncing every table" in err[-1]
        drain(proc.stdout)
        lines = wait_for_line(proc.stdout, "conn-denied", 3)
        assert proc.poll() is None, "podnet run died"
        assert len(lines) <= 3, lines  # at most a connection already under way
