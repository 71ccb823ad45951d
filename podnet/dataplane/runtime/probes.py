"""Readiness probes: the threshold logic (pure) and the checks (run inside the pod).

Semantics from "Configure Liveness, Readiness and Startup Probes" and the Probe API
(core/v1 types.go): readiness is ``False`` until the first success after
``initialDelaySeconds``; ``successThreshold`` consecutive successes make it ``True``,
``failureThreshold`` consecutive failures make it ``False``; probes run every
``periodSeconds`` and a check longer than ``timeoutSeconds`` fails. An ``httpGet``
succeeds on a status in [200, 400) (kubelet ``prober/http``); ``tcpSocket`` on an
accepted connection; ``exec`` on exit status 0.

kubelet probes ``httpGet``/``tcpSocket`` from the node against the pod IP. podnet runs
the check *inside* the pod's network namespace against the pod IP (same address, same
listening sockets), through the runtime's one spawner seam: ``python -m
podnet.dataplane.runtime.probes tcp HOST PORT TIMEOUT`` / ``http HOST PORT PATH TIMEOUT``.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, replace

from podnet.model.objects import Container, Probe


@dataclass(frozen=True)
class ProbeState:
    ready: bool = False
    successes: int = 0
    failures: int = 0


def observe(probe: Probe, state: ProbeState, success: bool) -> ProbeState:
    """The state after one probe result (pure)."""
    if success:
        s = replace(state, successes=state.successes + 1, failures=0)
        return replace(s, ready=True) if s.successes >= probe.success_threshold else s
    f = replace(state, failures=state.failures + 1, successes=0)
    return replace(f, ready=False) if f.failures >= probe.failure_threshold else f


def resolve_port(port: int | str, container: Container) -> int | None:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for p in container.ports:
        if p.name == port:
            return p.container_port
    return None


def check_argv(probe: Probe, container: Container, host: str) -> list[str] | None:
    """The argv that performs one check inside the pod; ``None`` if it cannot be built.

    ``exec`` returns the command itself (the runtime maps it to the image's program).
    """
    if probe.exec_command is not None:
        return list(probe.exec_command)
    timeout = str(probe.timeout_seconds)
    mod = [sys.executable, "-m", "podnet.dataplane.runtime.probes"]
    if probe.http_get_port is not None:
        port = resolve_port(probe.http_get_port, container)
        if port is None:
            return None
        return [*mod, "http", host, str(port), probe.http_get_path or "/", timeout]
    if probe.tcp_socket_port is not None:
        port = resolve_port(probe.tcp_socket_port, container)
        if port is None:
            return None
        return [*mod, "tcp", host, str(port), timeout]
    return None


def tcp_check(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_check(host: str, port: int, path: str, timeout: float) -> bool:
    """GET ``path``; success for 200-399, as kubelet's HTTP prober (no redirects followed)."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "kube-probe/podnet"})
        status = conn.getresponse().status
        return 200 <= status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    """``tcp HOST PORT TIMEOUT`` or ``http HOST PORT PATH TIMEOUT``; exit 0 on success."""
    try:
        if argv[0] == "tcp" and len(argv) == 4:
            return 0 if tcp_check(argv[1], int(argv[2]), float(argv[3])) else 1
        if argv[0] == "http" and len(argv) == 5:
            return 0 if http_check(argv[1], int(argv[2]), argv[3], float(argv[4])) else 1
    except (ValueError, IndexError):
        pass
    print("usage: probes tcp HOST PORT TIMEOUT | http HOST PORT PATH TIMEOUT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
