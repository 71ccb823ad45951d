"""The DNS pod's metrics port: what CoreDNS's ``prometheus :9153`` offers, minimally.

The kube-dns Service and CoreDNS's pod declare TCP 9153 ``metrics``; tools that check a
pod listens on every declared port (``podnet run`` does) expect an answer there.
``GET /metrics`` returns a few Prometheus text-format gauges of this process (the
query path keeps no counters: it is the hot loop) and ``GET /health`` returns ``OK``
as CoreDNS's ``health`` plugin does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Gauges = Callable[[], dict[str, float]]


def serve(host: str, port: int, gauges: Gauges) -> ThreadingHTTPServer:
    """Serve in a daemon thread; return the server (``shutdown()`` stops it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                body = b"OK"
            elif self.path == "/metrics":
                lines = [f"{k} {v:g}" for k, v in sorted(gauges().items())]
                body = ("\n".join(lines) + "\n").encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
