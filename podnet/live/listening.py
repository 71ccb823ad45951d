"""Which TCP ports a network namespace listens on, read from ``/proc/<pid>/net/tcp``.

``/proc/<pid>/net/tcp`` lists the sockets of *that process's* network namespace, so the
pod's holder pid is enough: no setns, no extra process. Used to start client pods only
once the servers they talk to are listening (see :mod:`podnet.live.run`).
"""

from __future__ import annotations

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
