"""A pod whose sandbox died, under a real `podnet up`, seen through kubectl: kubelet's
SandboxChanged path (kuberuntime_manager.go computePodActions and SyncPod). The pod
gets a new sandbox and a new IP, its container starts again with one restart more,
the Service's EndpointSlice follows and a client reaches it; a restartPolicy Never
pod whose container ran gets no new sandbox. Nothing is left behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from support.chaos import _holders, _pod_ip
from support.kube import Kubectl, eventually, podnet_up
from support.live import argv_of, descendants, require_live, wait_gone
from support.sandbox import HostState

pytestmark = pytest.mark.kernel

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
"""


def _status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    status: dict[str, Any] = kubectl.json("get", "pod", name).get("status") or {}
    return status


def _running_ip(kubectl: Kubectl, name: str) -> str | None:
    st = _status(kubectl, name)
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", []))
    return st.get("podIP") if st.get("phase") == "Running" and ready else None


def _sandboxes(root: int) -> dict[str, int]:
    """Pod IP -> the pid of the pod's sandbox holder, among ``root``'s descendants: the
    holders (``sleep infinity``) outside podnet's mount namespace (node holders share
    it) whose network namespace has a pod address."""
    tree = descendants(root)
    argvs = {pid: argv_of(pid) for pid in tree}
    mnt = os.stat(f"/proc/{root}/ns/mnt").st_ino
    found: dict[str, int] = {}
    for pid in _holders(argvs):
        try:
            if os.stat(f"/proc/{pid}/ns/mnt").st_ino == mnt:
                continue
        except OSError:
            continue
        ip = _pod_ip(pid)
        if ip is not None:
            found[ip] = pid
    return found


def _reasons(kubectl: Kubectl, name: str) -> list[str]:
    """The pod's Events' reasons, each as many times as it was recorded (a repeated
    Event is one object with a ``count``, as client-go's recorder aggregates it)."""
    evs = kubectl.json("get", "events", "--field-selector", f"involvedObject.name={name}")
    return [e["reason"] for e in evs["items"] for _ in range(e.get("count") or 1)]


def _slice_ips(kubectl: Kubectl) -> list[str]:
    slices = kubectl.json("get", "endpointslices", "-l", "kubernetes.io/service-name=web")
    return [
        a
        for s in slices["items"]
        for e in s.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready")
        for a in e["addresses"]
    ]


def test_a_pod_whose_sandbox_died_gets_a_new_one(tmp_path: Path) -> None:
    require_live()
    before = HostState.take()
    with podnet_up(tmp_path, "--nodes", "2") as up:
        kubectl = up.kubectl("1.37")
        kubectl.ok("apply", "-f", "-", stdin=MANIFEST)
        old_ip = eventually(lambda: _running_ip(kubectl, "web"), 30, "pod web Running")
        never_ip = eventually(lambda: _running_ip(kubectl, "never"), 30, "pod never Running")
        eventually(lambda: _slice_ips(kubectl) == [old_ip], 20, "web in its EndpointSlice")
        sandboxes = eventually(
            lambda: (s := _sandboxes(up.proc.pid)) and old_ip in s and never_ip in s and s,
            10,
            "both pods' sandbox holders",
        )
        count = len(sandboxes)

        os.kill(sandboxes[old_ip], signal.SIGKILL)
        eventually(
            lambda: "SandboxChanged" in _reasons(kubectl, "web"), 15, "a SandboxChanged Event"
        )
        new_ip = eventually(
            lambda: (ip := _running_ip(kubectl, "web")) and ip != old_ip and ip,
            20,
            "pod web Running again with a new IP",
        )
        nginx = _status(kubectl, "web")["containerStatuses"][0]
        assert nginx["restartCount"] == 1, nginx
        assert "running" in nginx["state"], nginx
        eventually(
            lambda: _reasons(kubectl, "web").count("Started") == 2, 10, "a second Started Event"
        )
        eventually(lambda: _slice_ips(kubectl) == [new_ip], 20, "the EndpointSlice follows")
        kubectl.ok(
            "run", "client", "--image=busybox", "--restart=Never", "--",
            "wget", "-qO-", "-T", "3", "http://web",
        )  # fmt: skip
        eventually(
            lambda: _status(kubectl, "client").get("phase") == "Succeeded",
            30,
            "a client reaches the Service",
        )

        # restartPolicy Never, its container ran: killed, no new sandbox
        os.kill(sandboxes[never_ip], signal.SIGKILL)
        phase = eventually(
            lambda: (p := _status(kubectl, "never").get("phase")) in ("Failed", "Succeeded") and p,
            15,
            "pod never terminated",
        )
        assert phase == "Failed"  # its container killed
        assert "SandboxChanged" not in _reasons(kubectl, "never")

        # one sandbox per pod that runs: web's new one and the client's (which ended)
        now = _sandboxes(up.proc.pid)
        assert old_ip not in now and never_ip not in now and new_ip in now, now
        assert len(now) <= count, (sandboxes, now)
        started = descendants(up.proc.pid)
        rc, err = up.stop()
    assert rc == 0, err
    assert "Traceback" not in err, err
    assert wait_gone(started) == []
    assert HostState.take() == before
