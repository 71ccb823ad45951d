"""``podnet run``: bring a cluster up, run its pods, stream their output, tear it down.

Semantics of "done": pods split into servers (they serve a port: declared
containerPorts, Service targetPorts, or a port their image is known to listen on) and
clients (everything else). Servers start first; clients start once every server is
listening on its TCP ports (bounded wait), so the seed's ``wget`` does not race nginx's
start-up. The run ends when every client's containers have exited once (their first
run is the result; restartPolicy Always would restart them, as kubelet does, but
nobody waits for that), or at ``--timeout``. With no clients it runs until the timeout
or Ctrl-C. The exit code is 0 when every container that completed exited 0.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TextIO

from podnet.analyze.served import served_ports
from podnet.dataplane.runtime_state import TERMINATED, PodStatus
from podnet.errors import ClusterError
from podnet.live.cluster import LiveCluster
from podnet.live.listening import listening_tcp_ports
from podnet.model.objects import Manifests, Pod

SERVER_START_WAIT = 10.0  # seconds to wait for servers to listen before starting clients


@dataclass
class Completion:
    """First exit code of each client container, filled from runtime status events."""

    expected: dict[str, set[str]]  # pod key -> container names still running
    exit_codes: dict[str, int] = field(default_factory=dict)  # "pod/container" -> code
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, status: PodStatus) -> None:
        with self.lock:
            waiting = self.expected.get(status.key)
            if not waiting:
                return
            for c in status.containers:
                finished = c.state == TERMINATED or c.restart_count > 0 or c.will_restart
                if c.name in waiting and finished and c.exit_code is not None:
                    self.exit_codes[f"{status.key}/{c.name}"] = c.exit_code
                    waiting.discard(c.name)
            if all(not w for w in self.expected.values()):
                self.done.set()


def _wait_listening(cluster: LiveCluster, servers: list[Pod], deadline: float) -> list[str]:
    """Wait until each server listens on its TCP ports; return those that never did."""
    assert cluster.sandbox is not None and cluster.state is not None
    want = {
        p.key: {n for n, proto in served_ports(p, cluster.state.services) if proto == "TCP"}
        for p in servers
    }
    while want and time.monotonic() < deadline:
        for key in list(want):
            if want[key] <= listening_tcp_ports(cluster.sandbox.pod_pid(key)):
                del want[key]
        if want:
            time.sleep(0.01)
    return sorted(want)


def run(
    manifests: Manifests,
    *,
    nodes: int = 1,
    timeout: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    shell: str | None = None,
    on_up: Callable[[LiveCluster], None] | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    t0 = time.monotonic()
    write_lock = threading.Lock()

    def log(prefix: str, line: str) -> None:
        with write_lock:
            out.write(f"[{prefix}] {line}\n")
            out.flush()

    completion = Completion(expected={})
    cluster = LiveCluster(manifests, nodes=nodes, on_log=log, on_status=completion.observe)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        state = cluster.start()
        servers, clients = cluster.servers_and_clients()
        completion.expected = {p.key: {c.name for c in p.containers} for p in clients}
        pending = [p.key for p in state.pods if p.ip is None]
        err.write(
            f"podnet: cluster up in {time.monotonic() - t0:.2f}s: {len(state.nodes)} node(s), "
            f"{len(state.pods) - len(pending)} pod(s), {len(state.services)} service(s)\n"
        )
        for key in pending:
            err.write(f"podnet: {key} is Pending: no node matches its nodeSelector\n")
        cluster.start_pods(servers)
        slow = _wait_listening(cluster, servers, time.monotonic() + SERVER_START_WAIT)
        for key in slow:
            err.write(f"podnet: {key} is not listening on its ports yet; starting clients anyway\n")
        cluster.start_pods(clients)
        if on_up is not None:
            on_up(cluster)
        if shell is not None:
            return _shell(cluster, shell)
        if not clients:
            err.write("podnet: no pod runs to completion; serving until --timeout or Ctrl-C\n")
            _sleep(timeout)
            return 0
        if not completion.done.wait(timeout):
            left = sorted(k for k, w in completion.expected.items() if w)
            err.write(f"podnet: timeout after {timeout}s; still running: {', '.join(left)}\n")
            return 1
        failed = {k: v for k, v in completion.exit_codes.items() if v != 0}
        for name, code in sorted(failed.items()):
            err.write(f"podnet: {name} exited {code}\n")
        return 1 if failed else 0
    except KeyboardInterrupt:
        err.write("podnet: interrupted; tearing down\n")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        cluster.close()


def _sleep(timeout: float | None) -> None:
    """Sleep until the timeout (forever without one)."""
    threading.Event().wait(timeout)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _shell(cluster: LiveCluster, key: str) -> int:
    """An interactive busybox shell inside the pod (its network, hostname, /etc files)."""
    assert cluster.sandbox is not None and cluster.state is not None and cluster.runtime
    pod = cluster.state.pod(key if "/" in key else f"default/{key}")
    if pod is None or pod.ip is None:
        raise ClusterError(f"no running pod {key!r} (use namespace/name)")
    image = cluster.runtime.images.resolve("busybox")
    argv = list(image.program("sh") or ("sh",))
    env = {**dict(image.env), "HOSTNAME": pod.hostname or pod.name, "PS1": f"{pod.key} # "}
    proc = cluster.sandbox.spawn(pod.key, argv, env=env)
    return proc.wait()
