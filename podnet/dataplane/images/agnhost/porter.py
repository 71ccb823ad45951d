"""``agnhost porter``: serve each ``SERVE_*PORT_N`` environment value on port N.

Upstream: test/images/agnhost/porter/porter.go. ``SERVE_PORT_N`` and
``SERVE_TCP_PORT_N`` serve HTTP answering every request with the value (or, with
``--json-response``, ``{"Method": ..., "Body": value}``); ``SERVE_UDP_PORT_N``
answers each datagram with the value. TLS and SCTP are logged and skipped here (no
certificate is shipped; SCTP needs a kernel module).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from podnet.dataplane.images.agnhost import servers
from podnet.dataplane.images.agnhost.cli import wait_for_term
from podnet.dataplane.images.agnhost.flags import parse

HTTP_PREFIXES = ("SERVE_PORT_", "SERVE_TCP_PORT_")
UDP_PREFIX = "SERVE_UDP_PORT_"
SKIPPED = ("SERVE_TLS_PORT_", "SERVE_SCTP_PORT_")


def _http(port: int, value: str, as_json: bool) -> None:
    def handle(method: str, _p: str, _q: str, _c: str) -> servers.Reply:
        if as_json:
            body = json.dumps({"Method": method, "Body": value}, separators=(",", ":"))
            return servers.Reply(body, ctype="application/json")
        return servers.Reply(value)

    servers.serve_http(port, handle)


def _constant(reply: bytes) -> Callable[[bytes, str], bytes]:
    return lambda _data, _client: reply


def main(argv: list[str]) -> int:
    f, _ = parse(argv, {"json-response": False})
    for key, value in sorted(os.environ.items()):
        try:
            if key.startswith(HTTP_PREFIXES):
                _http(int(key.rsplit("_", 1)[1]), value, bool(f["json-response"]))
            elif key.startswith(UDP_PREFIX):
                servers.serve_udp(int(key.rsplit("_", 1)[1]), _constant(value.encode()))
                servers.log(f"Started UDP server on port {key.rsplit('_', 1)[1]}")
            elif key.startswith(SKIPPED):
                servers.log(f"{key}: not supported by podnet's agnhost, skipped")
        except (OSError, ValueError) as e:
            servers.log(f'server on port "{key.rsplit("_", 1)[1]}" failed: {e}')
    wait_for_term()
    return 0
