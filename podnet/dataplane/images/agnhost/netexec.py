"""``agnhost netexec``: HTTP and UDP servers with the endpoints e2e network tests use.

Upstream: test/images/agnhost/netexec/netexec.go. Implemented: ``/`` ("NOW: time"),
``/hostname`` and ``/hostName``, ``/echo?msg=&code=``, ``/clientip`` (the client's
``ip:port``), ``/dial?host=&port=&request=&protocol=http|udp&tries=`` (JSON
``{"responses": [...], "errors": [...]}``; 400 on bad parameters), ``/shell?cmd=``
(JSON ``output``/``error`` of ``/bin/sh -c``), ``/healthz``, ``/exit?code=`` and
``/shutdown``. UDP (``--udp-port``, -1 disables): ``hostname``, ``echo MSG``,
``clientip``. Not implemented: TLS, SCTP, ``/upload``, ``/redirect``, ``--http-override``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs

from podnet.dataplane.images.agnhost import servers
from podnet.dataplane.images.agnhost.cli import wait_for_term
from podnet.dataplane.images.agnhost.flags import parse

DIAL_TIMEOUT = 5.0  # upstream's HTTP client timeout and UDP read deadline
_ready = threading.Event()


def _q(query: str, name: str) -> str:
    return parse_qs(query, keep_blank_values=True).get(name, [""])[0]


def dial_http(host: str, port: int, request: str) -> str:
    url = f"http://{host}:{port}/{request.lstrip('/')}"
    try:
        with urllib.request.urlopen(url, timeout=DIAL_TIMEOUT) as resp:
            return bytes(resp.read()).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        e.close()  # the error is the response: without this its socket stays open
        raise


def dial_udp(host: str, port: int, request: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(DIAL_TIMEOUT)
        s.connect((host, port))
        s.send(request.encode())
        try:
            data = s.recv(2048)
        except OSError as e:
            raise OSError(f"reading from udp connection failed. err:'{e}'") from e
    if not data:
        raise OSError("reading from udp connection failed. err:'<nil>'")
    return data.decode("utf-8", "replace")


def _dial(query: str) -> servers.Reply:
    host, port_s, request = _q(query, "host"), _q(query, "port"), _q(query, "request")
    protocol, tries_s = _q(query, "protocol").lower() or "http", _q(query, "tries") or "1"
    servers.log(
        f"GET /dial?host={host}&protocol={protocol}&port={port_s}&request={request}&tries={tries_s}"
    )
    if not tries_s.isdigit():
        return servers.Reply(f"tries parameter is invalid. {tries_s}\n", 400)
    if not request:
        return servers.Reply("request parameter not specified.\n", 400)
    if protocol not in ("http", "udp"):
        return servers.Reply(f"unsupported protocol. {protocol}\n", 400)
    if not port_s.isdigit() or not host:
        return servers.Reply("host and/or port param are invalid.\n", 400)
    dialer = dial_http if protocol == "http" else dial_udp
    responses: list[str] = []
    errors: list[str] = []
    last = ""
    for _ in range(int(tries_s)):
        try:
            last = dialer(host, int(port_s), request)
            responses.append(last)
        except (OSError, urllib.error.URLError) as e:
            last = ""
            errors.append(str(e))
    out: dict[str, list[str]] = {}
    if last:
        out["responses"] = responses
    if errors:
        out["errors"] = errors
    return servers.Reply(json.dumps(out, separators=(",", ":")), ctype="application/json")


def _shell(query: str) -> servers.Reply:
    cmd = _q(query, "shellCommand") or _q(query, "cmd")
    servers.log(f"GET /shell?cmd={cmd}")
    proc = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, check=False)
    out: dict[str, str] = {}
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if output:
        out["output"] = output
    if proc.returncode != 0:
        out["error"] = f"exit status {proc.returncode}"
    return servers.Reply(json.dumps(out, separators=(",", ":")), ctype="application/json")


def _exit_later(code: int) -> None:
    threading.Timer(0.05, os._exit, args=(code,)).start()


def handle(method: str, path: str, query: str, client: str) -> servers.Reply:
    del method
    if path in ("/hostname", "/hostName"):
        servers.log(f"GET {path}")
        return servers.Reply(servers.hostname())
    if path == "/echo":
        msg, code = _q(query, "msg"), _q(query, "code")
        servers.log(f"GET /echo?msg={msg}&code={code}")
        if code and not code.lstrip("-").isdigit():
            return servers.Reply(f"argument 'code' must be an integer or empty, got {code!r}\n")
        return servers.Reply(msg, int(code) if code else 200)
    if path == "/clientip":
        servers.log("GET /clientip")
        return servers.Reply(client)
    if path == "/dial":
        return _dial(query)
    if path == "/shell":
        return _shell(query)
    if path == "/healthz":
        return servers.Reply("", 200 if _ready.is_set() else 412)
    if path in ("/exit", "/shutdown"):
        code = _q(query, "code") if path == "/exit" else "0"
        if code and not code.isdigit():
            return servers.Reply(
                f"argument 'code' must be an integer [0-127] or empty, got {code!r}\n"
            )
        _exit_later(int(code or 0))
        return servers.Reply("")
    servers.log("GET /")
    return servers.Reply(f"NOW: {time.strftime('%Y-%m-%d %H:%M:%S %z')}")


def handle_udp(data: bytes, client: str) -> bytes | None:
    text = data.decode("utf-8", "replace").strip()
    cmd, _, rest = text.partition(" ")
    if cmd == "hostname":
        return servers.hostname().encode()
    if cmd == "echo":
        return rest.encode()
    if cmd == "clientip":
        return client.encode()
    return None


def main(argv: list[str]) -> int:
    f, _ = parse(argv, {"http-port": 8080, "udp-port": 8081, "sctp-port": -1})
    try:
        if int(f["udp-port"]) != -1:
            servers.serve_udp(int(f["udp-port"]), handle_udp)
            servers.log(f"Started UDP server on port {f['udp-port']}")
        _ready.set()
        servers.serve_http(int(f["http-port"]), handle)
    except OSError as e:
        servers.log(f"listen failed: {e}")
        return 1
    servers.log(f"Started HTTP server on port {f['http-port']}")
    wait_for_term()
    return 0
