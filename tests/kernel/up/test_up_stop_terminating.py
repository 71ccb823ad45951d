"""`podnet up` stopped while a pod is in its grace period: the teardown kills it at
once instead of waiting out the grace (30 s here), and leaves nothing behind."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from support.kube import eventually, podnet_up
from support.live import require_live
from support.sandbox import HostState

pytestmark = pytest.mark.kernel

# busybox sleep as PID 1 ignores SIGTERM: only the SIGKILL after the grace ends it
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 60
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
"""


def test_sigterm_during_a_grace_period_tears_down_at_once(tmp_path: Path) -> None:
    require_live()
    before = HostState.take()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=POD)
        eventually(
            lambda: k.ok("get", "pod", "stubborn", "-o", "jsonpath={.status.phase}") == "Running",
            what="pod running",
        )
        k.ok("delete", "pod", "stubborn", "--wait=false")
        eventually(
            lambda: k.ok("get", "pod", "stubborn", "-o", "jsonpath={.metadata.deletionTimestamp}"),
            what="pod terminating",
        )
        start = time.monotonic()
        code, err = up.stop(signal.SIGTERM, timeout=50)
        took = time.monotonic() - start
    assert code == 0, err
    assert took < 15, (took, err)  # not the 60 s grace
    assert HostState.take() == before
