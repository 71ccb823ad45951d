"""A SIGKILLed ``podnet up`` leaves none of its pods' volumes behind: their files lived
in the state directory (removed by the cluster init that outlives podnet a moment,
podnet/live/statedir.py), their mounts (a Memory emptyDir's tmpfs, a subPath bind) in
the pods' own mount namespaces, which go with the sandboxes.

The removal takes 0.03-0.06 s from the kill here (also at load 30 on two cores); the
bound leaves a loaded CI machine 40 times that. It took up to 2 s while the init waited
for zombies only the host reaps, and the directory stayed (until another podnet's sweep)
when the init died of a second death signal (podnet/dataplane/sandbox/cluster_init.py).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.kube import podnet_up
from support.leftovers import host_mounts_under, what_is_left
from support.live import descendants, require_live, wait_gone

from podnet.live.statedir import base_dir

pytestmark = pytest.mark.kernel

POD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: vols}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: cfg, mountPath: /k, subPath: k}
    - {name: mem, mountPath: /mem}
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
"""


REMOVED_WITHIN = 2.0  # seconds from the kill


def test_sigkill_leaves_no_volume(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=POD)
        k.ok("wait", "--for=condition=Ready", "pod/vols", "--timeout=60s", timeout=70)
        assert k.ok("exec", "vols", "--", "cat", "/k") == "v"
        (state,) = base_dir().glob(f"podnet-{up.proc.pid}-*")
        assert list((state / "volumes").glob("default_vols_*/v/cfg/..data"))
        assert host_mounts_under(state) == []  # the pod's mounts are not the host's
        started = descendants(up.proc.pid)
        killed = time.monotonic()
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait()
    while state.exists() and time.monotonic() - killed < REMOVED_WITHIN:
        time.sleep(0.01)
    assert not state.exists(), f"{REMOVED_WITHIN}s after the kill: {what_is_left(state)}"
    assert wait_gone(started, timeout=10) == []
    assert host_mounts_under(state) == []
