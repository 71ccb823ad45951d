"""Which TCP ports a network namespace listens on, read from ``/proc/<pid>/net/tcp``.

``/proc/<pid>/net/tcp`` lists the sockets of *that process's* network namespace, so the
pod's holder pid is enough: no setns, no extra process. Used to start client pods only
once the servers they talk to are listening (see :mod:`podnet.live.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from podnet.control.served import served_ports
from podnet.model.objects import Pod, Service

_LISTEN = "0A"  # TCP_LISTEN in include/net/tcp_states.h


def listening_tcp_ports(pid: int) -> set[int]:
    ports: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f, None)  # header
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == _LISTEN:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


class Listeners:
    """Which of some pods do not listen yet on every TCP port they serve
    (:func:`~podnet.control.served.served_ports`). Poll :meth:`all_listening` from a
    wait loop; it only reads /proc."""

    def __init__(
        self,
        pod_pid: Callable[[str], int],
        services: Sequence[Service],
        pods: Sequence[Pod],
        *,
        gave_up: Callable[[str], bool] | None = None,
    ) -> None:
        """``gave_up(key)``: the pod will not listen soon (its container exited), so
        waiting for it is pointless; it is then reported by :meth:`given_up`."""
        self._pod_pid = pod_pid
        self._gave_up = gave_up
        self._want = {
            p.key: {n for n, proto in served_ports(p, services) if proto == "TCP"} for p in pods
        }
        self._given_up: list[str] = []

    def all_listening(self) -> bool:
        """True once every pod listens or was given up on."""
        for key in list(self._want):
            if self._want[key] <= listening_tcp_ports(self._pod_pid(key)):
                del self._want[key]
            elif self._gave_up is not None and self._gave_up(key):
                del self._want[key]
                self._given_up.append(key)
        return not self._want

    def missing(self) -> list[str]:
        """Pods still expected to listen (the wait timed out on them)."""
        return sorted(self._want)

    def given_up(self) -> list[str]:
        return sorted(self._given_up)
