"""The cluster DNS server: UDP and TCP, answers from the cluster's ``DnsRecords``.

A reply depends only on the query bytes after the 2-byte ID (flags, question with its
letter case, EDNS) and on the records, so an answer cache maps ``query[2:]`` to
``reply[2:]``: a hit is one dict lookup and one concatenation. :meth:`DnsServer.set_records`
swaps records and an empty cache in one reference store, so a reader sees the old pair
or the new one, never a mix. A miss goes through :func:`podnet.dataplane.dns.wire.respond`,
which asks :func:`podnet.control.dns.resolve`. Python has no ``recvmmsg``: to use more
than one core, run more processes on one ``SO_REUSEPORT`` address (:mod:`.main`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from podnet.control.dns import DnsRecords
from podnet.dataplane.dns.wire import error_reply, respond

CACHE_MAX = 100_000
# Big enough for any query (EDNS queries are small; RFC 6891 answers are what grow),
# small enough that CPython does not allocate and shrink a 64 KiB bytes per datagram.
RECV_SIZE = 1500
CACHEABLE = 512  # longer queries are unusual; keep them out of the cache
FORWARD_TIMEOUT = 2.0
TCP_IDLE = 10.0
SERVFAIL = 2


@dataclass(frozen=True)
class _Snapshot:
    records: DnsRecords
    cache: dict[bytes, bytes]


def parse_addr(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class DnsServer:
    """A DNS server on one address, UDP and TCP, in background threads.

    Names outside ``records.domain`` go to ``upstream`` when given, else get REFUSED.
    """

    def __init__(self, records: DnsRecords, *, upstream: tuple[str, int] | None = None) -> None:
        self.upstream = upstream
        self._snap = _Snapshot(records, {})
        self._closing = False
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self.address: tuple[str, int] | None = None

    # --- records -------------------------------------------------------------------
    def set_records(self, records: DnsRecords) -> None:
        """Serve ``records`` from now on (atomic: one reference store)."""
        self._snap = _Snapshot(records, {})

    @property
    def records(self) -> DnsRecords:
        return self._snap.records

    @property
    def cache_size(self) -> int:
        return len(self._snap.cache)

    def answer(self, data: bytes, *, udp: bool = True) -> tuple[bytes | None, bool]:
        """Reply to one query (cache first); ``(None, True)`` means forward it."""
        snap = self._snap
        key = data[2:]
        # the cache holds UDP replies, which may be truncated: TCP always resolves
        body = snap.cache.get(key) if udp else None
        if body is not None:
            return data[:2] + body, False
        try:
            reply, fwd = respond(data, snap.records, udp=udp, forwarder=self.upstream is not None)
        except Exception:  # a bug answers SERVFAIL, never kills the server
            return error_reply(data, SERVFAIL), False
        if reply is not None and udp and len(data) <= CACHEABLE:
            if len(snap.cache) >= CACHE_MAX:
                snap.cache.clear()
            snap.cache[key] = reply[2:]
        return reply, fwd

    # --- sockets -------------------------------------------------------------------
    def bind(self, host: str, port: int, *, tcp: bool = True) -> tuple[str, int]:
        """Bind UDP (and TCP on the same port); port 0 picks a free one. A free UDP port
        may be taken for TCP: then another pair is tried (port 0 only)."""
        for attempt in range(20):
            try:
                return self._bind_pair(host, port, tcp)
            except OSError as e:
                if port != 0 or e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
        raise AssertionError("unreachable")

    def _bind_pair(self, host: str, port: int, tcp: bool) -> tuple[str, int]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            udp.bind((host, port))
            address = udp.getsockname()[:2]
            srv = None
            if tcp:
                srv = socket.socket(family, socket.SOCK_STREAM)
                try:
                    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    srv.bind((host, address[1]))
                    srv.listen(128)
                except OSError:
                    srv.close()
                    raise
        except OSError:
            udp.close()
            raise
        self._socks.append(udp)
        if srv is not None:
            self._socks.append(srv)
        self.address = address
        return self.address

    def start(self) -> DnsServer:
        """Serve the bound sockets in daemon threads."""
        for s in self._socks:
            target = self.serve_udp if s.type == socket.SOCK_DGRAM else self._serve_tcp
            t = threading.Thread(target=target, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def serve_forever(self) -> None:
        """Serve TCP in threads and UDP in the calling thread (the DNS pod's main)."""
        udp = [s for s in self._socks if s.type == socket.SOCK_DGRAM]
        for s in self._socks:
            if s.type == socket.SOCK_STREAM:
                threading.Thread(target=self._serve_tcp, args=(s,), daemon=True).start()
        self.serve_udp(udp[0])

    def close(self) -> None:
        self._closing = True
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv/accept
        for t in self._threads:
            t.join(timeout=2.0)
        for s in self._socks:
            s.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_udp(self, sock: socket.socket) -> None:
        """The hot loop: one recv, one dict lookup, one send per cached query."""
        recv, send = sock.recvfrom, sock.sendto
        while True:
            try:
                data, addr = recv(RECV_SIZE)
            except OSError:
                return
            if not data:
                if self._closing:
                    return
                continue
            body = self._snap.cache.get(data[2:])
            if body is not None:
                try:  # noqa: SIM105 - the hot path: a bare try costs less than suppress()
                    send(data[:2] + body, addr)
                except OSError:
                    pass
                continue
            reply, fwd = self.answer(data)
            try:
                if fwd:
                    self._forward_async(data, functools.partial(_send_to, sock, addr))
                elif reply is not None:
                    send(reply, addr)
            except OSError:
                pass

    def _forward_async(self, data: bytes, reply_to: Callable[[bytes], object]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="dns-fwd")
        self._pool.submit(self._forward, data, reply_to)

    def _forward(self, data: bytes, reply_to: Callable[[bytes], object]) -> None:
        assert self.upstream is not None
        reply = forward_udp(data, self.upstream) or error_reply(data, SERVFAIL)
        if reply is not None:
            with contextlib.suppress(OSError):
                reply_to(reply)

    def _serve_tcp(self, srv: socket.socket) -> None:
        while not self._closing:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        """RFC 7766: length-prefixed messages, several per connection, idle timeout."""
        conn.settimeout(TCP_IDLE)
        with conn:
            while not self._closing:
                head = _recv_exact(conn, 2)
                if head is None:
                    return
                data = _recv_exact(conn, int.from_bytes(head, "big"))
                if data is None:
                    return
                reply, fwd = self.answer(data, udp=False)
                if fwd and self.upstream is not None:
                    reply = forward_udp(data, self.upstream) or error_reply(data, SERVFAIL)
                if reply is None:
                    return
                try:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                except OSError:
                    return


def _send_to(sock: socket.socket, addr: tuple[object, ...], reply: bytes) -> None:
    sock.sendto(reply, addr)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = conn.recv(n - len(buf))
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def forward_udp(data: bytes, upstream: tuple[str, int]) -> bytes | None:
    """Ask ``upstream`` over UDP; the raw reply (its ID is the client's), or ``None``."""
    family = socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(FORWARD_TIMEOUT)
        try:
            s.connect(upstream)
            s.send(data)
            while True:
                reply = s.recv(65535)
                if reply[:2] == data[:2]:
                    return reply
        except OSError:
            return None
