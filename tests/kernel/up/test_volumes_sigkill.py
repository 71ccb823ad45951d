"""A SIGKILLed ``podnet up`` leaves none of its pods' volumes behind: their files lived
in the state directory (removed by the cluster init that outlives podnet a moment,
podnet/live/statedir.py), their mounts (a Memory emptyDir's tmpfs, a subPath bind) in
the pods' own mount namespaces, which go with the sandboxes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.kube import eventually, podnet_up
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


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(path) in line]


def test_sigkill_leaves_no_volume(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=POD)
        k.ok("wait", "--for=condition=Ready", "pod/vols", "--timeout=60s", timeout=70)
        assert k.ok("exec", "vols", "--", "cat", "/k") == "v"
        (state,) = base_dir().glob(f"podnet-{up.proc.pid}-*")
        assert list((state / "volumes").glob("default_vols_*/v/cfg/..data"))
        assert _mounts_under(state) == []  # the pod's mounts are not the host's
        started = descendants(up.proc.pid)
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait()
    assert wait_gone(started, timeout=10) == []
    # the cluster init removes it once podnet has gone (seen over 10 s on a loaded CI run)
    eventually(lambda: not state.exists(), 30, f"{state} removed")
    assert _mounts_under(state) == []
