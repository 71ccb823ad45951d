"""The gRPC probe's check against real gRPC servers on loopback: podnet's agnhost
grpc-health-checking (grpc.health.v1, as upstream's), and a server without the health
service. Outcomes and messages are kubelet's (pkg/probe/grpc/grpc.go)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc  # type: ignore[import-untyped]
import pytest

from podnet.dataplane.runtime.probes import grpc_check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def agnhost() -> Iterator[tuple[int, int]]:
    """agnhost grpc-health-checking for service "svc": (gRPC port, control HTTP port)."""
    port, http = _free_port(), _free_port()
    argv = [sys.executable, "-m", "podnet.dataplane.images.agnhost", "grpc-health-checking"]
    argv += [f"--port={port}", f"--http-port={http}", "--service=svc"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port, http
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err


def test_serving_then_forced_not_serving_then_serving_again(agnhost: tuple[int, int]) -> None:
    port, http = agnhost
    assert grpc_check("127.0.0.1", port, "svc", 2) == (True, "service healthy")
    urllib.request.urlopen(f"http://127.0.0.1:{http}/make-not-serving", timeout=5).read()
    assert grpc_check("127.0.0.1", port, "svc", 2) == (
        False,
        'service unhealthy (responded with "NOT_SERVING")',
    )
    urllib.request.urlopen(f"http://127.0.0.1:{http}/make-serving", timeout=5).read()
    assert grpc_check("127.0.0.1", port, "svc", 2)[0]


def test_another_service_name_is_not_found(agnhost: tuple[int, int]) -> None:
    port, _ = agnhost
    assert grpc_check("127.0.0.1", port, "", 2) == (
        False,
        "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service",
    )


def test_no_server_is_a_connect_timeout() -> None:
    port = _free_port()
    t0 = time.monotonic()
    ok, out = grpc_check("127.0.0.1", port, "", 1)
    assert not ok and time.monotonic() - t0 < 5
    assert out == (
        f'timeout: failed to connect service "127.0.0.1:{port}" within 1s: '
        "context deadline exceeded"
    )


def test_a_server_without_the_health_service_is_named() -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        ok, out = grpc_check("127.0.0.1", port, "", 2)
    finally:
        server.stop(0)
    assert not ok
    assert out.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "
    )
