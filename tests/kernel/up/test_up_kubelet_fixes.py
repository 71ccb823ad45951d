"""`podnet up`'s kubelet when a terminating pod is deleted again: a shorter grace period
shortens the kill in progress (pkg/kubelet/pod_workers.go: "a grace period can only
decrease"), and a force delete kills at once, so a new pod of the same name starts
without waiting out the old one's grace period. The container ignores SIGTERM, so only
the SIGKILL at the end of the grace period in force stops it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.kube import Kubectl, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

STUBBORN = """\
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "trap '' TERM; sleep 3600"]
"""


def _running_uid(kubectl: Kubectl) -> str:
    def uid() -> str | None:
        done = kubectl("get", "pod", "stubborn", "-o", "jsonpath={.status.phase} {.metadata.uid}")
        phase, _, found = done.out.partition(" ")
        return found if done.rc == 0 and phase == "Running" else None

    found: str = eventually(uid, 30, "pod stubborn Running")
    return found


def _terminating(kubectl: Kubectl) -> None:
    """Delete with the pod's own 30 s grace and see it terminating (for a moment more,
    so the kubelet's kill is under way)."""
    kubectl.ok("delete", "pod", "stubborn", "--wait=false")
    grace = kubectl.json("get", "pod", "stubborn")["metadata"]["deletionGracePeriodSeconds"]
    assert grace == 30
    time.sleep(1.0)


def _gone(kubectl: Kubectl) -> bool:
    done = kubectl("get", "pod", "stubborn", "--ignore-not-found", "-o", "name")
    return done.rc == 0 and not done.out.strip()


def test_a_shorter_grace_period_shortens_a_kill_in_progress(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        kubectl = up.kubectl("1.37")
        kubectl.ok("apply", "-f", "-", stdin=STUBBORN)
        _running_uid(kubectl)
        _terminating(kubectl)
        began = time.monotonic()
        kubectl.ok("delete", "pod", "stubborn", "--grace-period=1", "--wait=false")
        eventually(lambda: _gone(kubectl), 15, "pod stubborn gone within 1 s of grace")
        assert time.monotonic() - began < 10


def test_a_force_delete_kills_at_once_and_frees_the_name(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        kubectl = up.kubectl("1.37")
        kubectl.ok("apply", "-f", "-", stdin=STUBBORN)
        old = _running_uid(kubectl)
        _terminating(kubectl)
        began = time.monotonic()
        kubectl.ok("delete", "pod", "stubborn", "--force", "--grace-period=0")
        kubectl.ok("apply", "-f", "-", stdin=STUBBORN)
        new = _running_uid(kubectl)
        assert new != old
        assert time.monotonic() - began < 10
        # a running pod force-deleted (no earlier graceful delete) goes at once too
        kubectl.ok("delete", "pod", "stubborn", "--force", "--grace-period=0")
        kubectl.ok("apply", "-f", "-", stdin=STUBBORN)
        assert _running_uid(kubectl) not in (old, new)
        assert time.monotonic() - began < 20
