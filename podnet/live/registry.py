"""Finding a running ``podnet run`` from another process (for ``podnet exec``).

A state file would outlive a SIGKILLed podnet. Instead each running cluster listens on
an *abstract* unix socket, ``@podnet-cluster/<uid>/<pid>`` (unix(7): abstract names
have no file; the kernel drops the name with the last socket, so nothing can leak).
The names are listed in ``/proc/net/unix``; connecting returns one JSON document
describing the cluster, built at that moment:

    {"pid": ..., "pods": {"ns/name": <pause pid>, ...}, "hostnames": {...},
     "path": "<PATH for busybox applets>"}

Abstract names are not protected by file permissions, so the server answers only
peers of the same uid or root (SO_PEERCRED, as seen from podnet's user namespace).
Names carry the host uid (:func:`host_uid`), also for a rootless podnet. The list
is per network namespace: podnet itself stays in the host's (only its children enter
the cluster's), and so does ``podnet exec``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from podnet.errors import ClusterError

PREFIX = "podnet-cluster"
Describe = Callable[[], dict[str, Any]]


def socket_name(uid: int, pid: int) -> str:
    return f"\0{PREFIX}/{uid}/{pid}"


def host_uid() -> int:
    """Our uid as the host sees it. A rootless podnet is uid 0 in its own user
    namespace (/proc/self/uid_map "0 <host uid> 1"); ``podnet exec`` runs outside it."""
    uid = os.getuid()
    try:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inside, outside, count = (int(x) for x in line.split())
                if inside <= uid < inside + count:
                    return outside + uid - inside
    except (OSError, ValueError):
        pass
    return uid


class Announcer:
    """Serves ``describe()`` on this process's abstract socket from a daemon thread."""

    def __init__(self, describe: Describe) -> None:
        self._describe = describe
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._sock.bind(socket_name(host_uid(), os.getpid()))
        self._sock.listen(8)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="podnet-announce", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn, contextlib.suppress(OSError):
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                _, uid, _ = struct.unpack("3i", creds)
                if uid not in (0, os.getuid()):
                    continue
                try:
                    doc = self._describe()
                except Exception as e:  # the cluster is going away: say so, stay up
                    doc = {"error": str(e)}
                conn.sendall(json.dumps(doc).encode())

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=2)


def running_clusters(uid: int | None = None) -> list[int]:
    """Pids of the ``podnet run`` processes of ``uid`` (default: ours) in this netns."""
    want = f"@{PREFIX}/{host_uid() if uid is None else uid}/"
    pids: list[int] = []
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and fields[7].startswith(want):
                    with contextlib.suppress(ValueError):
                        pids.append(int(fields[7][len(want) :]))
    except OSError:
        return []
    return sorted(set(pids))


def describe_cluster(pid: int, uid: int | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the ``podnet run`` with ``pid`` for its description."""
    name = socket_name(host_uid() if uid is None else uid, pid)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
            s.settimeout(timeout)
            s.connect(name)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError as e:
        raise ClusterError(f"podnet run {pid} does not answer: {e}") from e
    try:
        doc: dict[str, Any] = json.loads(b"".join(chunks))
    except ValueError as e:
        raise ClusterError(f"podnet run {pid} sent a bad description") from e
    if "error" in doc:
        raise ClusterError(f"podnet run {pid}: {doc['error']}")
    return doc
