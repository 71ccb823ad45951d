"""livenessProbe / startupProbe into the model (core/v1 defaults.go SetDefaults_Probe,
SetDefaults_HTTPGetAction) and the API server's probe checks (validation.go
validateLivenessProbe, validateStartupProbe, validateReadinessProbe)."""

from __future__ import annotations

from typing import Any

import pytest
from support.mf_builders import error_of, load, pod, setpath

from podnet.model.objects import Probe

HTTP: dict[str, Any] = {
    "httpGet": {
        "port": "web",
        "path": "/healthz",
        "scheme": "HTTPS",
        "host": "10.0.0.9",
        "httpHeaders": [{"name": "Host", "value": "example.test"}, {"name": "X-A", "value": "1"}],
    },
    "periodSeconds": 1,
}


def test_liveness_and_startup_probes_convert_with_the_pods_grace() -> None:
    doc = setpath(pod(terminationGracePeriodSeconds=7), "spec.containers[0].livenessProbe", HTTP)
    doc = setpath(doc, "spec.containers[0].startupProbe", {"exec": {"command": ["true"]}})
    doc = setpath(doc, "spec.containers[0].readinessProbe", {"tcpSocket": {"port": 80}})
    (p,) = load(doc).pods
    c = p.containers[0]
    assert c.liveness_probe == Probe(
        http_get_port="web",
        http_get_path="/healthz",
        http_get_scheme="HTTPS",
        http_get_host="10.0.0.9",
        http_headers=(("Host", "example.test"), ("X-A", "1")),
        period_seconds=1,
        termination_grace_period_seconds=7,
    )
    assert c.startup_probe == Probe(exec_command=("true",), termination_grace_period_seconds=7)
    # a readiness probe never kills: no grace
    assert c.readiness_probe == Probe(tcp_socket_port=80)


def test_the_probes_own_grace_wins() -> None:
    probe = {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 2}
    doc = setpath(pod(terminationGracePeriodSeconds=30), "spec.containers[0].livenessProbe", probe)
    (p,) = load(doc).pods
    live = p.containers[0].liveness_probe
    assert live is not None and live.termination_grace_period_seconds == 2


@pytest.mark.parametrize("kind", ["livenessProbe", "startupProbe"])
def test_success_threshold_must_be_1(kind: str) -> None:
    probe = {"exec": {"command": ["true"]}, "successThreshold": 2}
    err = error_of(setpath(pod(), f"spec.containers[0].{kind}", probe))
    assert err.field == f"spec.containers[0].{kind}.successThreshold"
    assert err.message == "Invalid value: 2: must be 1"


def test_readiness_success_threshold_may_be_more() -> None:
    probe = {"exec": {"command": ["true"]}, "successThreshold": 3}
    (p,) = load(setpath(pod(), "spec.containers[0].readinessProbe", probe)).pods
    ready = p.containers[0].readiness_probe
    assert ready is not None and ready.success_threshold == 3


def test_readiness_probe_takes_no_grace() -> None:
    probe = {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 5}
    err = error_of(setpath(pod(), "spec.containers[0].readinessProbe", probe))
    assert err.message == "Invalid value: 5: must not be set for readinessProbes"


def test_grpc_liveness_probe_asks_for_the_servers_overall_health_by_default() -> None:
    m = load(setpath(pod(), "spec.containers[0].livenessProbe", {"grpc": {"port": 9000}}))
    live = m.pods[0].containers[0].liveness_probe
    assert live is not None and (live.grpc_port, live.grpc_service) == (9000, "")
    assert not m.warnings


def test_grpc_probe_port_out_of_range_is_invalid() -> None:
    err = error_of(setpath(pod(), "spec.containers[0].livenessProbe", {"grpc": {"port": 70000}}))
    assert err.field == "spec.containers[0].livenessProbe.grpc.port"
    assert err.message == "Invalid value 70000: must be between 1 and 65535, inclusive"
