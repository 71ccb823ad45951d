"""``crun exec`` takes its process from a FIFO in the container's bundle, gone once
crun has opened it (launcher.hand_over): execs and exec probes leave no
``exec-*.json`` behind, however many a long-lived container sees."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.kube import eventually, podnet_up
from support.live import require_live

from podnet.dataplane.oci.launcher import hand_over
from podnet.live.statedir import base_dir

pytestmark = pytest.mark.kernel

BOX = """\
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: box
    image: busybox
    command: [sleep, "1000"]
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
"""


def test_execs_leave_no_process_file_in_the_bundle(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=BOX)

        def ready() -> bool:
            conds = k.json("get", "pod", "box").get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

        eventually(ready, 30, "the pod Ready (its exec probe passed)")
        for i in range(5):
            assert k.ok("exec", "box", "--", "echo", f"n{i}").strip() == f"n{i}"
        time.sleep(2)  # two more exec probes
        found = list(base_dir().glob(f"podnet-{up.proc.pid}-*/**/config.json"))
        bundles = [p.parent for p in found if p.parent.name.startswith("bundle-")]
        assert bundles, found  # the container's bundle is where this test looks
        left = [p for b in bundles for p in b.iterdir() if p.name.startswith("exec-")]
        assert left == []
        rc, err = up.stop()
        assert rc == 0, err


def test_an_exec_that_never_came_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "exec-1.json"
    hand_over(path, b"{}", timeout=0.2)
    assert path.exists()  # the FIFO, waiting for its reader
    eventually(lambda: not path.exists(), 5, "the FIFO gone after its timeout")


def test_the_reader_gets_the_whole_process(tmp_path: Path) -> None:
    path = tmp_path / "exec-2.json"
    data = b"x" * 300_000  # more than a pipe holds
    hand_over(path, data)
    fd = os.open(path, os.O_RDONLY)
    with open(fd, "rb") as f:
        assert f.read() == data
    assert not path.exists()
