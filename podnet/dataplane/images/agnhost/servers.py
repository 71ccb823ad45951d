"""Small servers shared by the subcommands: a threaded HTTP server and UDP/TCP loops.

Every listener binds the wildcard address, as agnhost's Go servers do (``:PORT``), and
logs one line per request to stderr, which becomes the container log.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(msg: str) -> None:
    """Go ``log.Printf`` format: date, time, message."""
    print(time.strftime("%Y/%m/%d %H:%M:%S ") + msg, file=sys.stderr, flush=True)


def hostname() -> str:
    return socket.gethostname()


class Reply:
    def __init__(self, body: str | bytes, status: int = 200, ctype: str = "text/plain") -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.status, self.ctype = status, ctype
        self.close = False


# (method, path, query string, client "ip:port") -> Reply
HttpHandler = Callable[[str, str, str, str], Reply]


def serve_http(port: int, handler: HttpHandler) -> ThreadingHTTPServer:
    """Serve ``handler`` on ``port`` in a daemon thread; return the server."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            path, _, query = self.path.partition("?")
            client = f"{self.client_address[0]}:{self.client_address[1]}"
            reply = handler(self.command, path, query, client)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.ctype)
            self.send_header("Content-Length", str(len(reply.body)))
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _do

        def log_message(self, format: str, *args: object) -> None:
            pass  # the handler logs what upstream logs

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_udp(port: int, handler: Callable[[bytes, str], bytes | None]) -> socket.socket:
    """Answer each datagram with ``handler(data, "ip:port")`` (``None``: no answer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))

    def loop() -> None:
        while True:
            try:
                data, addr = sock.recvfrom(65535)
            except OSError:
                return
            reply = handler(data, f"{addr[0]}:{addr[1]}")
            if reply is not None:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, addr)

    threading.Thread(target=loop, daemon=True).start()
    return sock


def serve_tcp_once(port: int, payload: Callable[[str], bytes]) -> socket.socket:
    """Accept connections; write ``payload(client)`` and close each one."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(128)

    def loop() -> None:
        while True:
            try:
                conn, addr = srv.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(payload(f"{addr[0]}:{addr[1]}"))

    threading.Thread(target=loop, daemon=True).start()
    return srv
