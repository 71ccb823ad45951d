"""``agnhost serve-hostname``: the hostname over HTTP (default), raw TCP and/or UDP.

Upstream: test/images/agnhost/serve-hostname/serve_hostname.go - flags ``--http``
(default true), ``--tcp``, ``--udp``, ``--close``, ``--port`` (default 9376); HTTP and
TCP/UDP together is a fatal error; every reply is the bare hostname, no newline.
"""

from __future__ import annotations

from podnet.dataplane.images.agnhost import servers
from podnet.dataplane.images.agnhost.cli import wait_for_term
from podnet.dataplane.images.agnhost.flags import FlagError, parse


def _logged(msg: str, name: str) -> bytes:
    servers.log(msg)
    return name.encode()


def main(argv: list[str]) -> int:
    f, pos = parse(argv, {"http": True, "tcp": False, "udp": False, "close": False, "port": 9376})
    if pos:
        raise FlagError(f"unknown command {pos[0]!r} for serve-hostname")
    if f["http"] and (f["tcp"] or f["udp"]):
        servers.log("Can't server TCP/UDP mode and HTTP mode at the same time")
        return 1
    port = int(f["port"])
    name = servers.hostname()
    try:
        if f["tcp"]:
            servers.serve_tcp_once(port, lambda c: _logged(f"TCP request from {c}", name))
        if f["udp"]:
            servers.serve_udp(port, lambda _d, c: _logged(f"UDP request from {c}", name))
        if f["http"]:

            def handle(_m: str, _p: str, _q: str, client: str) -> servers.Reply:
                servers.log(f"HTTP request from {client}")
                reply = servers.Reply(name)
                reply.close = bool(f["close"])
                return reply

            servers.serve_http(port, handle)
    except OSError as e:
        servers.log(f"Error from net.Listen(): {e}")
        return 1
    servers.log(f"Serving on port {port}.")
    wait_for_term()
    servers.log("Shutting down after receiving signal: terminated.")
    return 0
