"""The README's `podnet up` walk-through, with the real kubectl binaries (1.20 and 1.37):
the seed through `kubectl apply`, a recreated pod's new IP followed by its EndpointSlice,
a NetworkPolicy applied to running pods, and a clean teardown."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, eventually, podnet_up
from support.live import descendants, require_live, wait_gone
from support.paths import REPO
from support.sandbox import HostState

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"

DENY_TO_SERVER = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-to-my-app}
spec:
  podSelector: {matchLabels: {app: my-app}}
  policyTypes: [Ingress]
"""


def _pod(kubectl: Kubectl, name: str) -> dict[str, object]:
    pod: dict[str, object] = kubectl.json("get", "pod", name)
    return pod


def _client(kubectl: Kubectl, name: str) -> str:
    """A new client pod fetching my-service once (3 s timeout); its phase when done.
    ``wget -T 3`` as the Kubernetes docs write it (podnet's busybox image takes it), not
    ``timeout 3 wget``: sh and busybox's timeout both exec, so wget would be the
    container's pid 1, which ignores SIGTERM (pid_namespaces(7)), as on a real cluster."""
    kubectl.ok(
        "run",
        name,
        "--image=busybox",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "wget -qO- -T 3 http://my-service",
    )

    def finished() -> str | None:
        status: dict[str, str] = _pod(kubectl, name).get("status") or {}  # type: ignore[assignment]
        phase = status.get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase: str = eventually(finished, 30, f"pod {name} finished")
    return phase


def _outcome(kubectl: Kubectl, name: str) -> str:
    """The client's phase, with its log and its pod's events when it Failed (what a
    failure in CI needs to be understood)."""
    phase = _client(kubectl, name)
    if phase == "Failed":
        log = kubectl("logs", name)
        events = kubectl("get", "events", "--field-selector", f"involvedObject.name={name}")
        return f"{phase}: log {log.out.strip()!r} {log.err.strip()!r}; events:\n{events.out}"
    return phase


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_seed_through_kubectl(tmp_path: Path, version: str) -> None:
    require_live()
    before = HostState.take()
    with podnet_up(tmp_path, "--nodes", "2") as up:
        kubectl = up.kubectl(version)
        out = kubectl.ok("apply", "-f", str(SEED))
        assert "pod/pod-a created" in out and "service/my-service created" in out, out
        logs = eventually(
            lambda: (d := kubectl("logs", "pod-a")).rc == 0 and "Welcome to nginx!" in d.out,
            30,
            "pod-a's log shows the nginx page",
        )
        assert logs
        wide = kubectl.ok("get", "pods", "-o", "wide")
        assert "10.244." in wide and "node-" in wide, wide
        old_ip = _pod(kubectl, "pod-b")["status"]["podIP"]  # type: ignore[index]

        # Pod IPs change if pods restart; the Service keeps working.
        kubectl.ok("delete", "pod", "pod-b")
        kubectl.ok("apply", "-f", str(SEED))
        new_ip = eventually(
            lambda: _pod(kubectl, "pod-b").get("status", {}).get("podIP"),  # type: ignore[attr-defined]
            20,
            "pod-b's new IP",
        )
        assert new_ip != old_ip

        def slice_ips() -> list[str]:
            slices = kubectl.json(
                "get", "endpointslices", "-l", "kubernetes.io/service-name=my-service"
            )
            return [
                a for s in slices["items"] for e in s.get("endpoints") or [] for a in e["addresses"]
            ]

        eventually(lambda: slice_ips() == [new_ip], 20, "the EndpointSlice follows pod-b")
        assert _outcome(kubectl, "client-1") == "Succeeded"

        # NetworkPolicies can block traffic, applied to running pods.
        kubectl.ok("apply", "-f", "-", stdin=DENY_TO_SERVER)
        t0 = time.monotonic()
        assert _client(kubectl, "client-2") == "Failed"
        kubectl.ok("delete", "networkpolicy", "deny-to-my-app")
        assert _outcome(kubectl, "client-3") == "Succeeded"
        assert time.monotonic() - t0 < 60

        started = descendants(up.proc.pid)
        rc, err = up.stop()
    assert rc == 0, err
    assert "Traceback" not in err
    assert wait_gone(started) == []
    assert HostState.take() == before


def test_requests_without_valid_credentials_get_401(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            request = urllib.request.Request(f"{up.server}/api/v1/pods", headers=headers)
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(request, context=insecure, timeout=10)
            assert e.value.code == 401
            body = json.loads(e.value.read())
            e.value.close()
            assert body["kind"] == "Status" and body["reason"] == "Unauthorized", body
        # The health endpoints are public, as kube-apiserver's system:public-info-viewer.
        with urllib.request.urlopen(f"{up.server}/readyz", context=insecure, timeout=10) as r:
            assert r.read() == b"ok"
        rc, _ = up.stop()
    assert rc == 0
