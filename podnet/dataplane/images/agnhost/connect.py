"""``agnhost connect HOST:PORT``: try one connection, exit 0 or print why it failed.

Upstream: test/images/agnhost/connect/connect.go. Errors go to stderr prefixed with a
fixed word tests look for - ``UNKNOWN`` (bad arguments), ``TIMEOUT``, ``DNS``,
``REFUSED``, ``OTHER`` - and exit 1. ``--timeout`` is a Go duration (0 = the OS
default); ``--protocol`` tcp (default), udp (sends ``--udp-data`` + newline and needs
a reply) or sctp.
"""

from __future__ import annotations

import socket
import sys

from podnet.dataplane.images.agnhost.flags import FlagError, duration, parse

OS_CONNECT_TIMEOUT = 130.0  # roughly Linux's SYN retry budget, for --timeout 0


def _fail(msg: str) -> int:
    print(msg, file=sys.stderr, flush=True)
    return 1


def _resolve(dest: str, kind: int) -> tuple[tuple[str, int] | None, str | None]:
    host, sep, port = dest.rpartition(":")
    if not sep or not port:
        return None, f"UNKNOWN: address {dest}: missing port in address"
    try:
        infos = socket.getaddrinfo(host.strip("[]"), int(port), type=kind)
    except (socket.gaierror, ValueError) as e:
        return None, f"DNS: lookup {host}: {e}"
    addr = infos[0][4]
    return (str(addr[0]), int(addr[1])), None


def _tcp(dest: str, timeout: float, proto: int = socket.IPPROTO_TCP) -> int:
    addr, err = _resolve(dest, socket.SOCK_STREAM)
    if addr is None:
        return _fail(err or "UNKNOWN")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto) as s:
            s.settimeout(timeout or OS_CONNECT_TIMEOUT)
            s.connect(addr)
    except TimeoutError:
        return _fail("TIMEOUT")
    except ConnectionRefusedError:
        return _fail("REFUSED")
    except OSError as e:
        return _fail(f"OTHER: dial tcp {dest}: {e.strerror or e}")
    return 0


def _udp(dest: str, timeout: float, data: str) -> int:
    addr, err = _resolve(dest, socket.SOCK_DGRAM)
    if addr is None:
        return _fail(err or "UNKNOWN")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout or None)
        try:
            s.connect(addr)
            s.send(f"{data}\n".encode())
            reply = s.recv(1024)
        except TimeoutError:
            return _fail(f"TIMEOUT: read udp {dest}: i/o timeout")
        except ConnectionRefusedError as e:
            return _fail(f"REFUSED: read udp {dest}: {e.strerror}")
        except OSError as e:
            return _fail(f"UNKNOWN: {e}")
    if not reply:
        return _fail("OTHER: No data received from the server.")
    return 0


def main(argv: list[str]) -> int:
    try:
        f, pos = parse(
            argv,
            {"timeout": "0", "protocol": "tcp", "udp-data": "hostname", "sctp-data": "hostname"},
        )
        timeout = duration(str(f["timeout"]))
    except FlagError as e:
        return _fail(f"UNKNOWN: {e}")
    if len(pos) != 1:
        return _fail(f"UNKNOWN: accepts 1 arg(s), received {len(pos)}")
    proto = str(f["protocol"])
    if proto in ("", "tcp"):
        return _tcp(pos[0], timeout)
    if proto == "udp":
        return _udp(pos[0], timeout, str(f["udp-data"]))
    if proto == "sctp":
        if not hasattr(socket, "IPPROTO_SCTP"):
            return _fail("OTHER: SCTP not supported")
        return _tcp(pos[0], timeout, socket.IPPROTO_SCTP)
    return _fail(f"Unsupported protocol\n{proto}")
