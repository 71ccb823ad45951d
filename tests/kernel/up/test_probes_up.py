"""Liveness and startup probes in ``podnet up`` with real crun containers, as kubelet's
prober runs them (pkg/kubelet/prober/worker.go, prober.go; kuberuntime_manager.go
computePodActions): a failing liveness probe (exec, httpGet against busybox httpd, grpc
against agnhost grpc-health-checking) kills and restarts the container with Unhealthy and
Killing Events; a startup probe holds
``started`` and readiness back until it passes, and restarts the container when it
keeps failing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.kube import eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

LIVE = """\
apiVersion: v1
kind: Pod
metadata: {name: live-exec}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "touch /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: live-http}
spec:
  containers:
  - name: web
    image: busybox
    command:
    - sh
    - -c
    - mkdir -p /tmp/www && echo ok > /tmp/www/healthz && exec httpd -f -p 8080 -h /tmp/www
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
        httpHeaders: [{name: X-Probe, value: podnet}]
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
"""

GRPC = """\
apiVersion: v1
kind: Pod
metadata: {name: live-grpc}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: grpc
    image: registry.k8s.io/e2e-test-images/agnhost:2.43
    args: [grpc-health-checking, --port=5000, --http-port=8080, --service=app]
    ports: [{containerPort: 5000}]
    readinessProbe: {grpc: {port: 5000, service: app}, periodSeconds: 1}
    livenessProbe: {grpc: {port: 5000, service: app}, periodSeconds: 1, failureThreshold: 2}
  - name: tools
    image: busybox
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: wrong-service}
spec:
  containers:
  - name: grpc
    image: registry.k8s.io/e2e-test-images/agnhost:2.43
    args: [grpc-health-checking, --port=5000, --service=app]
    readinessProbe: {grpc: {port: 5000, service: other}, periodSeconds: 1}
"""

BAD = """\
apiVersion: v1
kind: Pod
metadata: {name: bad-threshold}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    livenessProbe: {exec: {command: ["true"]}, successThreshold: 2}
"""

STARTUP = """\
apiVersion: v1
kind: Pod
metadata: {name: slow-start}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    startupProbe:
      exec: {command: [cat, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 120
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: never-starts}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    startupProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 2}
"""


def _status(k: Any, pod: str) -> dict[str, Any]:
    st = k.json("get", "pod", pod).get("status", {})
    assert isinstance(st, dict)
    return st


def _container(k: Any, pod: str) -> dict[str, Any]:
    cs = _status(k, pod).get("containerStatuses") or [{}]
    assert isinstance(cs[0], dict)
    return cs[0]


def _events(k: Any, pod: str) -> list[tuple[str, str, str]]:
    evs = k.json("get", "events", "--field-selector", f"involvedObject.name={pod}")
    return [(e.get("type", ""), e["reason"], e.get("message", "")) for e in evs["items"]]


def _ready(k: Any, pod: str) -> bool:
    conds = _status(k, pod).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def _running(k: Any, pod: str) -> bool:
    return "running" in (_container(k, pod).get("state") or {})


def test_failing_liveness_probes_restart_the_container(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        bad = k("apply", "-f", "-", stdin=BAD)
        assert bad.rc != 0
        assert "livenessProbe.successThreshold: Invalid value: 2: must be 1" in bad.err
        k.ok("apply", "-f", "-", stdin=LIVE)
        eventually(lambda: _ready(k, "live-exec") and _ready(k, "live-http"), 60, "both Ready")
        time.sleep(2.5)  # passing probes: no restart, no Event
        assert _container(k, "live-exec")["restartCount"] == 0
        assert not [e for e in _events(k, "live-exec") if e[1] in ("Unhealthy", "Killing")]
        assert _container(k, "live-exec")["started"] is True  # no startup probe: at once

        k.ok("exec", "live-exec", "--", "rm", "/tmp/healthy")
        k.ok("exec", "live-http", "--", "rm", "/tmp/www/healthz")

        eventually(lambda: _container(k, "live-exec")["restartCount"] == 1, 40, "exec restart")
        eventually(lambda: _container(k, "live-http")["restartCount"] == 1, 40, "http restart")
        evs = _events(k, "live-exec")
        assert (
            "Warning",
            "Unhealthy",
            "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory",
        ) in evs
        assert (
            "Normal",
            "Killing",
            "Container app failed liveness probe, will be restarted",
        ) in evs
        http_evs = _events(k, "live-http")
        assert (
            "Warning",
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 404",
        ) in http_evs
        assert (
            "Normal",
            "Killing",
            "Container web failed liveness probe, will be restarted",
        ) in http_evs
        # the killed run is lastState (the shell, PID 1, ignores SIGTERM: killed at grace)
        last = _container(k, "live-exec")["lastState"]["terminated"]
        assert last["exitCode"] == 137 and last["reason"] == "Error"
        # the new run recreated its file: running and healthy again, no further restart
        eventually(lambda: _running(k, "live-exec") and _ready(k, "live-exec"), 30, "back")
        time.sleep(2.5)
        assert _container(k, "live-exec")["restartCount"] == 1

        described = k.ok("describe", "pod", "live-exec")
        assert "Liveness:" in described and "exec [cat /tmp/healthy]" in described
        assert "Liveness probe failed: cat: can't open" in described
        assert "failed liveness probe, will be restarted" in described
        old = up.kubectl("1.20").ok("describe", "pod", "live-http")
        assert "http-get http://:http/healthz" in old and "statuscode: 404" in old
        rc, err = up.stop()
        assert rc == 0, err


def test_startup_probe_gates_readiness_and_restarts_when_failing(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=STARTUP)
        eventually(lambda: _running(k, "slow-start"), 60, "slow-start running")
        time.sleep(3)  # the readiness probe would pass by now: it must wait
        c = _container(k, "slow-start")
        assert c["started"] is False and c["ready"] is False and not _ready(k, "slow-start")
        assert any(
            e[1] == "Unhealthy" and e[2].startswith("Startup probe failed: cat: can't open")
            for e in _events(k, "slow-start")
        )
        k.ok("exec", "slow-start", "--", "touch", "/tmp/started")
        eventually(lambda: _container(k, "slow-start")["started"] is True, 20, "started")
        eventually(lambda: _ready(k, "slow-start"), 20, "slow-start Ready")
        assert _container(k, "slow-start")["restartCount"] == 0

        eventually(lambda: _container(k, "never-starts").get("restartCount", 0) >= 1, 40, "restart")
        evs = _events(k, "never-starts")
        assert ("Warning", "Unhealthy", "Startup probe failed:") in evs  # `false` says nothing
        assert (
            "Normal",
            "Killing",
            "Container app failed startup probe, will be restarted",
        ) in evs
        assert _container(k, "never-starts")["started"] is False
        rc, err = up.stop()
        assert rc == 0, err


def _named(k: Any, pod: str, container: str) -> dict[str, Any]:
    for c in _status(k, pod).get("containerStatuses") or []:
        if c.get("name") == container:
            assert isinstance(c, dict)
            return c
    return {}


def test_grpc_probes_ask_the_health_service(tmp_path: Path) -> None:
    """kubelet's gRPC prober against upstream's test server: SERVING is Ready, an
    unknown service name is NotFound (never Ready), NOT_SERVING fails the liveness
    probe and restarts the container, whose new process serves again."""
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl("1.37")
        k.ok("apply", "-f", "-", stdin=GRPC)
        eventually(lambda: _ready(k, "live-grpc"), 60, "live-grpc Ready")
        eventually(
            lambda: any(
                e[1] == "Unhealthy"
                and e[2]
                == "Readiness probe failed: error: health rpc probe failed: "
                "rpc error: code = NotFound desc = unknown service"
                for e in _events(k, "wrong-service")
            ),
            30,
            "wrong-service's NotFound",
        )
        assert not _ready(k, "wrong-service")
        assert _named(k, "live-grpc", "grpc")["restartCount"] == 0

        out = k.ok(
            "exec", "live-grpc", "-c", "tools", "--",
            "wget", "-qO-", "http://127.0.0.1:8080/make-not-serving",
        )  # fmt: skip
        assert out.endswith("s")  # the time since the server started, as upstream's
        eventually(lambda: _named(k, "live-grpc", "grpc")["restartCount"] == 1, 40, "restart")
        evs = _events(k, "live-grpc")
        assert (
            "Warning",
            "Unhealthy",
            'Liveness probe failed: service unhealthy (responded with "NOT_SERVING")',
        ) in evs
        assert (
            "Normal",
            "Killing",
            "Container grpc failed liveness probe, will be restarted",
        ) in evs
        eventually(lambda: _ready(k, "live-grpc"), 30, "Ready again after the restart")
        assert _named(k, "live-grpc", "grpc")["restartCount"] == 1
        rc, err = up.stop()
        assert rc == 0, err
