"""When a probe may start: servers bound to their ports, Service backends ready.

A probe fired before the server listens would be reported as "denied" and disagree
with the prediction for no network reason, so ``podnet probe`` first waits for

* every served port of every probed pod to be bound in the pod's network namespace:
  TCP sockets in LISTEN in ``/proc/<pid>/net/tcp{,6}``; UDP sockets bound to the port
  in ``/proc/<pid>/net/udp{,6}`` (UDP has no listen state: a bound socket is what a
  server has; the prober's own sockets do not exist yet); SCTP endpoints in
  ``/proc/<pid>/net/sctp/eps`` when the kernel has SCTP (without it nothing can
  listen, and the prober reports those probes as unsupported);
* with ``--via service``, each Service backend the plan relies on to be among the
  Service's endpoints (podnet lists only Ready pods: kubelet's Ready condition drives
  the EndpointSlice controller, :mod:`podnet.control.endpoints`).

``/proc/<pid>/net/*`` shows the network namespace of ``pid`` (the pod's pause process),
so reading it needs no setns and no extra process (as :mod:`podnet.live.listening`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

READY_WAIT = 15.0  # seconds for servers to bind and endpoints to become Ready
_TCP_LISTEN = "0A"  # include/net/tcp_states.h
_SCTP_DIR = "/proc/net/sctp"


def sctp_available() -> bool:
    """Whether this kernel has SCTP loaded (the sctp module creates /proc/net/sctp)."""
    return os.path.isdir(_SCTP_DIR)


def _ports_in(path: str, state: str | None) -> set[int]:
    """Local ports of the sockets in a /proc/net/{tcp,udp}[6] table (in ``state``)."""
    ports: set[int] = set()
    try:
        with open(path) as f:
            next(f, None)  # header
            for line in f:
                fields = line.split()
                if len(fields) > 3 and (state is None or fields[3] == state):
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
    return ports


def _sctp_ports(pid: int) -> set[int]:
    """Ports of listening SCTP endpoints (``eps``: the LPORT column, the 6th)."""
    ports: set[int] = set()
    try:
        with open(f"/proc/{pid}/net/sctp/eps") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) > 5 and fields[5].isdigit():
                    ports.add(int(fields[5]))
    except OSError:
        pass
    return ports


def bound_ports(
    pid: int, protocols: Iterable[str] = ("TCP", "UDP", "SCTP")
) -> set[tuple[int, str]]:
    """(port, protocol) a pod's network namespace serves right now (of ``protocols``:
    each is one or two /proc files, read only when asked for, as this is polled)."""
    wanted = set(protocols)
    out: set[tuple[int, str]] = set()
    if "TCP" in wanted:
        for n in ("tcp", "tcp6"):
            out |= {(p, "TCP") for p in _ports_in(f"/proc/{pid}/net/{n}", _TCP_LISTEN)}
    if "UDP" in wanted:
        for n in ("udp", "udp6"):
            out |= {(p, "UDP") for p in _ports_in(f"/proc/{pid}/net/{n}", None)}
    if "SCTP" in wanted:
        out |= {(p, "SCTP") for p in _sctp_ports(pid)}
    return out


def missing_ports(
    want: Mapping[str, Iterable[tuple[int, str]]], pid_of: Mapping[str, int]
) -> dict[str, set[tuple[int, str]]]:
    """Per pod, the wanted ports not bound yet (pods with nothing missing left out).

    SCTP ports are not waited for on a kernel without SCTP: nothing can bind them.
    """
    sctp = sctp_available()
    out: dict[str, set[tuple[int, str]]] = {}
    for key, ports in want.items():
        needed = {p for p in ports if p[1] != "SCTP" or sctp}
        if not needed:
            continue
        gone = needed - bound_ports(pid_of[key], {proto for _, proto in needed})
        if gone:
            out[key] = gone
    return out
