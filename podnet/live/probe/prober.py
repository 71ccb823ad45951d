"""The prober: runs inside ONE source pod and tries many connections at once.

``python -m podnet.live.probe.prober [--timeout S]`` reads a JSON list of targets on
stdin, ``[{"ip": "10.244.0.5", "port": 80, "protocol": "TCP"}, ...]``, and prints one
JSON list of results in the same order, ``[{"result": "allowed"|"denied"|"unsupported",
"detail": "..."}, ...]``. All targets run in parallel on non-blocking sockets under one
``selectors`` loop, so a batch takes about one timeout, whatever its size.

Success is what upstream's probe counts (kubernetes test/e2e/network/netpol/probe.go runs
``agnhost connect --timeout=1s``; agnhost connect.go): TCP and SCTP, the handshake
completes (a refusal or silence fails); UDP, a reply comes back in time (an ICMP
port-unreachable is ECONNREFUSED; silence fails, since a dropped datagram and an
unanswered one look the same). A kernel without SCTP cannot create the socket
(EPROTONOSUPPORT): ``unsupported``, neither allowed nor denied.
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

ALLOWED, DENIED, UNSUPPORTED = "allowed", "denied", "unsupported"
TRANSPORTS = ("thread", "process")  # ways to run this in the pods: .transport
UDP_PAYLOAD = b"hostname\n"  # what agnhost connect --protocol udp sends by default
_SCTP = getattr(socket, "IPPROTO_SCTP", 132)


@dataclass(frozen=True)
class Target:
    ip: str
    port: int
    protocol: str


@dataclass
class _Attempt:
    index: int
    target: Target
    sock: socket.socket


def _open(t: Target) -> tuple[socket.socket | None, str | None]:
    """A non-blocking socket with the connection started; or the final result."""
    kind, proto = {
        "TCP": (socket.SOCK_STREAM, 0),
        "UDP": (socket.SOCK_DGRAM, 0),
        "SCTP": (socket.SOCK_STREAM, _SCTP),
    }.get(t.protocol, (-1, -1))
    if kind == -1:
        return None, f"{UNSUPPORTED}:protocol {t.protocol}"
    try:
        s = socket.socket(socket.AF_INET6 if ":" in t.ip else socket.AF_INET, kind, proto)
    except OSError as e:
        if e.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
            return None, f"{UNSUPPORTED}:{t.protocol} not supported by the kernel"
        return None, f"{DENIED}:socket: {e.strerror}"
    s.setblocking(False)
    err = s.connect_ex((t.ip, t.port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return None, f"{DENIED}:connect: {errno.errorcode.get(err, err)}"
    return s, None


class Batch:
    """Connections started in the calling thread's network namespace, each with its
    own deadline (``timeout`` s after :meth:`add`), settled by :meth:`step`/:meth:`wait`.

    A socket keeps the namespace it was created in, so one thread may add targets from
    several namespaces, and add more while earlier ones are in flight (see
    :mod:`podnet.live.probe.transport`).
    """

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self._sel = selectors.DefaultSelector()
        self._results: list[tuple[str, str] | None] = []
        self._live: deque[tuple[float, _Attempt]] = deque()  # by deadline (add order)

    def add(self, t: Target) -> int:
        """Start one target; returns its index in :meth:`results`."""
        i = len(self._results)
        self._results.append(None)
        sock, final = _open(t)
        if sock is None:
            assert final is not None
            result, _, detail = final.partition(":")
            self._results[i] = (result, detail)
            return i
        att = _Attempt(i, t, sock)
        self._live.append((time.monotonic() + self.timeout, att))
        if t.protocol == "UDP":
            _send_udp(att, self._results)
            if self._results[i] is None:
                self._sel.register(sock, selectors.EVENT_READ, att)
        else:
            self._sel.register(sock, selectors.EVENT_WRITE, att)
        return i

    @property
    def busy(self) -> bool:
        return bool(self._live)

    @property
    def settled(self) -> int:
        """Targets added whose attempt is over (for a progress bar: cheap, not exact
        within one step)."""
        return len(self._results) - len(self._live)

    def step(self, wait: float) -> None:
        """Handle what is ready within ``wait`` s (less if a deadline comes first);
        attempts past their deadline are denied ("timeout")."""
        results = self._results
        if self._live:
            left = min(wait, self._live[0][0] - time.monotonic())
            for key, _ in self._sel.select(max(left, 0)) if self._sel.get_map() else ():
                att = key.data
                _settle(att, results)
                if results[att.index] is not None:
                    self._sel.unregister(att.sock)
        elif wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        while self._live and (
            results[self._live[0][1].index] is not None or self._live[0][0] <= now
        ):
            _, att = self._live.popleft()
            if results[att.index] is None:
                results[att.index] = (DENIED, "timeout")
                self._sel.unregister(att.sock)
            att.sock.close()

    def wait(self) -> list[tuple[str, str]]:
        """Settle everything added (each within its own deadline); the results."""
        while self._live:
            self.step(self.timeout)
        return self.results()

    def results(self) -> list[tuple[str, str]]:
        return [r if r is not None else (DENIED, "?") for r in self._results]

    def close(self) -> None:
        for _, att in self._live:
            att.sock.close()
        self._live.clear()
        self._sel.close()


def probe_all(targets: list[Target], timeout: float = 1.0) -> list[tuple[str, str]]:
    """(result, detail) per target, all attempted at once; each gets ``timeout`` s."""
    batch = Batch(timeout)
    try:
        for t in targets:
            batch.add(t)
        return batch.wait()
    finally:
        batch.close()


def _send_udp(att: _Attempt, results: list[tuple[str, str] | None]) -> None:
    try:
        att.sock.send(UDP_PAYLOAD)
    except OSError as e:
        results[att.index] = (DENIED, f"send: {errno.errorcode.get(e.errno or 0, e)}")


def _settle(att: _Attempt, results: list[tuple[str, str] | None]) -> None:
    if att.target.protocol == "UDP":
        try:
            data = att.sock.recv(2048)
        except BlockingIOError:
            return
        except OSError as e:  # ECONNREFUSED: ICMP port unreachable (or a reject)
            results[att.index] = (DENIED, errno.errorcode.get(e.errno or 0, str(e)).lower())
            return
        results[att.index] = (ALLOWED, "reply") if data else (DENIED, "empty reply")
        return
    err = att.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err == 0:
        results[att.index] = (ALLOWED, "connected")
    else:
        results[att.index] = (DENIED, errno.errorcode.get(err, str(err)).lower())


def parse_targets(raw: Any) -> list[Target]:
    if not isinstance(raw, list):
        raise ValueError("expected a JSON list of targets")
    return [Target(str(t["ip"]), int(t["port"]), str(t["protocol"]).upper()) for t in raw]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m podnet.live.probe.prober")
    ap.add_argument("--timeout", type=float, default=1.0)
    args = ap.parse_args(argv)
    try:
        targets = parse_targets(json.load(sys.stdin))
    except (ValueError, KeyError, TypeError) as e:
        print(f"prober: bad input: {e}", file=sys.stderr)
        return 2
    out = [{"result": r, "detail": d} for r, d in probe_all(targets, args.timeout)]
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
