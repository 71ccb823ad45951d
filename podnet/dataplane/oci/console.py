"""A container's terminal: the pty master crun hands over on a console socket.

A container with ``tty: true`` gets a terminal as its controlling terminal from its
first instruction (containerd's CRI: ``WithTTY`` sets ``process.terminal``; the shim
holds the console). OCI runtimes make the pty inside the container and, given
``--console-socket PATH``, connect to that unix socket and send the master end as
SCM_RIGHTS (runtime-spec ``process.terminal``; crun(1) ``--console-socket``; runc's
docs/terminals.md, "detached, new terminal"). podnet listens on a socket in the run's
bundle, starts ``crun run --console-socket``, and takes the master: the runtime reads
the container's output from it (its log and attached clients), attach writes input
and window sizes to it.

The socket's path must be reachable from the pod's mount namespace, where crun runs:
the bundle is (crun reads its config.json there), and a unix socket is found by its
inode, whichever mount namespace binds it.
"""

from __future__ import annotations

import array
import contextlib
import os
import select
import socket
import subprocess
import time
from pathlib import Path

from podnet.errors import PodRuntimeError

SUN_PATH_MAX = 107  # sockaddr_un.sun_path less its terminating NUL
RECEIVE_TIMEOUT = 10.0  # seconds crun has to send the master once it runs
POLL = 0.05


class ConsoleSocket:
    """A listening unix socket that receives one pty master from the runtime."""

    def __init__(self, path: Path) -> None:
        if len(os.fsencode(str(path))) > SUN_PATH_MAX:
            raise PodRuntimeError(f"console socket path too long for a unix socket: {path}")
        self.path = path
        path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.bind(str(path))
            self._sock.listen(1)
        except BaseException:
            self._sock.close()
            raise

    def receive(self, proc: subprocess.Popen[bytes], timeout: float = RECEIVE_TIMEOUT) -> int:
        """The master fd crun sends (non-blocking, close-on-exec; the caller owns it).
        Fails if ``proc`` (the ``crun run``) ends first or nothing comes in time."""
        deadline = time.monotonic() + timeout
        # poll, not select: past ~1,000 containers the socket's fd number passes
        # FD_SETSIZE (1024) and select.select raises ValueError.
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        while True:
            if poller.poll(POLL * 1000):
                break
            if proc.poll() is not None:
                raise PodRuntimeError("the OCI runtime ended before it sent the terminal")
            if time.monotonic() > deadline:
                raise PodRuntimeError("the OCI runtime sent no terminal in time")
        conn, _ = self._sock.accept()
        with conn:
            fds = array.array("i")
            _, ancdata, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            raise PodRuntimeError("the OCI runtime's console message carried no terminal")
        for extra in fds[1:]:
            os.close(extra)
        master = fds[0]
        os.set_inheritable(master, False)
        os.set_blocking(master, False)
        return master

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
