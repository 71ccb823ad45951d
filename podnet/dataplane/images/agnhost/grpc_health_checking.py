"""``agnhost grpc-health-checking``: a gRPC health checking endpoint (grpc.health.v1).

Upstream: test/images/agnhost/grpc-health-checking/grpc-health-checking.go, what the
Kubernetes e2e tests of gRPC probes run. Flags ``--port`` (5000, gRPC), ``--http-port``
(8080: ``/make-serving`` and ``/make-not-serving`` force the answer, replying the time
since start), ``--delay-unhealthy-sec`` (-1: SERVING for that many seconds, then
NOT_SERVING; negative: never), ``--service`` (""): a Check for another service name is
NotFound "unknown service"; Watch is Unimplemented.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# imported only when this subcommand runs (agnhost's cli imports it lazily)
import grpc  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from podnet.dataplane.images.agnhost import servers
from podnet.dataplane.images.agnhost.cli import wait_for_term
from podnet.dataplane.images.agnhost.flags import FlagError, parse


class _State:
    def __init__(self, service: str, delay_unhealthy: int) -> None:
        self.started = time.monotonic()
        # Go's time.Time %v, as upstream logs it on every Check
        now = time.time()
        self.started_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + (
            f".{int(now % 1 * 1e9):09d} +0000 UTC"
        )
        self.service, self.delay_unhealthy = service, delay_unhealthy
        self.forced: bool | None = None  # /make-not-serving: True, /make-serving: False
        self.lock = threading.Lock()

    def serving(self) -> bool:
        with self.lock:
            forced = self.forced
        if forced:
            return False
        elapsed = time.monotonic() - self.started
        return not (self.delay_unhealthy >= 0 and elapsed >= self.delay_unhealthy)

    def since(self) -> str:
        return f"{time.monotonic() - self.started:.6f}s"


def _servicer(state: _State) -> Any:
    class HealthChecker(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
        def Check(self, request: Any, context: Any) -> Any:
            servers.log(
                f"Serving the Check request for health check, started at {state.started_at}"
            )
            if request.service != state.service:
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
            status = health_pb2.HealthCheckResponse.SERVING
            if not state.serving():
                status = health_pb2.HealthCheckResponse.NOT_SERVING
            return health_pb2.HealthCheckResponse(status=status)

        def Watch(self, request: Any, context: Any) -> Any:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "unimplemented")

    return HealthChecker()


def main(argv: list[str]) -> int:
    f, pos = parse(
        argv, {"port": 5000, "http-port": 8080, "delay-unhealthy-sec": -1, "service": ""}
    )
    if pos:
        raise FlagError(f"unknown command {pos[0]!r} for grpc-health-checking")
    state = _State(str(f["service"]), int(f["delay-unhealthy-sec"]))

    def control(_m: str, path: str, _q: str, _c: str) -> servers.Reply:
        if path not in ("/make-serving", "/make-not-serving"):
            return servers.Reply("404 page not found\n", status=404)
        unhealthy = path == "/make-not-serving"
        servers.log("Mark as unhealthy" if unhealthy else "Mark as healthy")
        with state.lock:
            state.forced = unhealthy
        return servers.Reply(state.since())

    try:
        servers.serve_http(int(f["http-port"]), control)
        servers.log(f"Http server starting to listen on :{f['http-port']}")
        server = grpc.server(ThreadPoolExecutor(max_workers=4))
        health_pb2_grpc.add_HealthServicer_to_server(_servicer(state), server)
        if server.add_insecure_port(f"[::]:{f['port']}") == 0:
            raise OSError(f"cannot listen on :{f['port']}")
        server.start()
    except (OSError, RuntimeError) as e:
        servers.log(f"Error while starting the listening service {e}")
        return 1
    servers.log(f"gRPC server starting to listen on :{f['port']}")
    wait_for_term()
    server.stop(0)
    return 0
