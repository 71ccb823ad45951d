"""`podnet up` restarted on the same data dir does not run again a pod that had
already Succeeded: kubelet's pod workers record a first-seen terminal pod as
terminated (pkg/kubelet/pod_workers.go UpdatePod, issues.k8s.io/105523)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.kube import eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

ONCE = """\
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers: [{name: job, image: busybox, command: [echo, ran]}]
"""


def _started(kubectl: Any) -> int:
    evs = kubectl.json("get", "events", "--field-selector", "involvedObject.name=once")
    return sum(1 for e in evs["items"] if e["reason"] == "Started")


def test_a_succeeded_pod_stays_succeeded_across_a_restart(tmp_path: Path) -> None:
    require_live()
    data = tmp_path / "data"
    with podnet_up(tmp_path, data_dir=data) as up:
        kubectl = up.kubectl("1.37")
        kubectl.ok("apply", "-f", "-", stdin=ONCE)

        def done() -> Any:
            st = kubectl.json("get", "pod", "once").get("status", {})
            return st.get("phase") == "Succeeded" and _started(kubectl) and st

        before = eventually(done, 30, "pod once Succeeded and its Started Event")
        rc, err = up.stop()
        assert rc == 0, err
    with podnet_up(tmp_path, data_dir=data) as up:
        kubectl = up.kubectl("1.37")
        time.sleep(3)  # a start would show by now: a new Started Event, a new startedAt
        after = kubectl.json("get", "pod", "once")["status"]
        assert after["phase"] == "Succeeded"
        assert _started(kubectl) == 1
        was = before["containerStatuses"][0]["state"]["terminated"]
        now = after["containerStatuses"][0]["state"]["terminated"]
        assert (now["startedAt"], now["exitCode"]) == (was["startedAt"], 0)
        rc, err = up.stop()
        assert rc == 0, err
