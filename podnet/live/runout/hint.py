"""Say why a client is silent: its connection is dropped by a policy (``--deny drop``).

With drop, as most CNIs do it, a denied client sees nothing: its SYN is dropped and it
retries for minutes (busybox wget waited 2 min 14 s once, with no hint). The kernel
shows such a client's connection as a socket in SYN_SENT in the pod's network
namespace (``/proc/<pid>/net/tcp``, state 02, include/net/tcp_states.h), with the
address the client dialled (a ClusterIP before kube-proxy's DNAT); a DNS lookup whose
queries are dropped as a connected UDP socket (``/proc/<pid>/net/udp``, state 01, a
remote address). The policy engine, through ``podnet explain``'s tracer, then names
the policy that denies it. Only connections the engine denies are reported: a SYN_SENT
to an allowed address is a server that does not answer, not a policy's doing.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podnet.errors import PodnetError
from podnet.model.cluster import ClusterState

if TYPE_CHECKING:
    from podnet.analyze.explain.connection import Tracer

_SYN_SENT = "02"  # TCP_SYN_SENT
_ESTABLISHED = "01"  # TCP_ESTABLISHED: for UDP, a connect()ed socket
QUIET = 5.0  # seconds without output before a stuck client is explained

Peer = tuple[str, int, str]  # (ip, port, protocol)


def _address(field: str) -> tuple[str, int]:
    """``0100007F:0050`` (host byte order hex, as /proc prints it) -> (127.0.0.1, 80)."""
    ip_hex, port_hex = field.split(":")
    return socket.inet_ntoa(struct.pack("=I", int(ip_hex, 16))), int(port_hex, 16)


def parse_sockets(text: str, protocol: str) -> list[Peer]:
    """Remote ends a ``/proc/<pid>/net/tcp`` (or ``udp``) text is trying to reach: TCP
    sockets in SYN_SENT, UDP sockets connected to an address."""
    want = _SYN_SENT if protocol == "TCP" else _ESTABLISHED
    out: list[Peer] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == want:
            ip, port = _address(fields[2])
            if port:
                out.append((ip, port, protocol))
    return out


def connecting(pid: int) -> list[Peer]:
    """What a pod's processes are trying to reach (IPv4: the cluster is)."""
    out: list[Peer] = []
    for name, protocol in (("tcp", "TCP"), ("udp", "UDP")):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                out += parse_sockets(f.read(), protocol)
        except OSError:
            continue
    return out


@dataclass(frozen=True)
class Dropped:
    """A client's connection the policy engine denies, and in words why."""

    pod: str
    ip: str
    port: int
    protocol: str
    target: str  # the Service or pod dialled, or the address
    reason: str  # the engine's sentence

    def message(self, quiet: float) -> str:
        return (
            f"{self.pod}: no output for {quiet:.0f}s; its connection to {self.target} "
            f"({self.ip}:{self.port}/{self.protocol}) is dropped by policy: {self.reason}. "
            f"--deny reject fails such connections at once; `podnet explain -f ... {self.pod} "
            f"{self.ip}:{self.port}/{self.protocol}` traces it"
        )


class DropExplainer:
    """One tracer over the cluster as applied; :meth:`dropped` is pure given it."""

    def __init__(self, state: ClusterState) -> None:
        # Imported here: only a run with a silent client needs it (10-20 ms of start-up).
        from podnet.analyze.explain.connection import Tracer

        self.tracer: Tracer = Tracer(state)

    def dropped(self, pod: str, ip: str, port: int, protocol: str = "TCP") -> Dropped | None:
        try:
            e = self.tracer.explain(pod, f"{ip}:{port}/{protocol}")
        except PodnetError:  # the address is no Service port or pod podnet knows
            return None
        if e.reachable or not e.hops:  # allowed, or refused without any policy
            return None
        if e.service is not None:
            target = f"Service {e.service.key}"
        elif e.hops[0].pod:
            target = f"pod {e.hops[0].pod}"
        else:
            target = ip
        denied = [h for h in e.hops if not h.verdict.allowed]
        reasons = (h.verdict.reason.removeprefix("denied: ") for h in denied)
        reason = "; ".join(dict.fromkeys(reasons))
        return Dropped(pod, ip, port, protocol, target, reason)
