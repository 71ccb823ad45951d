"""A :class:`PodStreams` over this machine: ``exec`` runs a local process (a pty with
``tty``), ``port_forward`` connects to 127.0.0.1 through a port map. It behaves as
the kubelet's must (errors before streams, exit codes, kill), so the HTTP stream
protocols can be tested without a cluster; it records every session it starts so
tests can check that none is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import termios
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from podnet.apiserver import errors

CHUNK = 64 * 1024


class LocalSession:
    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self.proc = proc
        self.master = master  # the pty's master side with a tty, else None
        self.resizes: list[tuple[int, int]] = []
        self.killed = False
        self._pty_reader: asyncio.StreamReader | None = None
        self._pty_transport: asyncio.BaseTransport | None = None
        self._pty_pipe: IO[bytes] | None = None  # closed by kill() too, not left to the GC

    async def write_stdin(self, data: bytes) -> None:
        if self.master is not None:
            await asyncio.to_thread(os.write, self.master, data)
            return
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.master is not None:
            return  # a terminal has no EOF but ^D, which the client sends itself
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
            with contextlib.suppress(ConnectionError):
                await self.proc.stdin.wait_closed()

    async def stdout(self) -> AsyncIterator[bytes]:
        if self.master is not None:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            pipe = os.fdopen(os.dup(self.master), "rb", 0)
            self._pty_pipe = pipe
            try:
                transport, _ = await loop.connect_read_pipe(
                    lambda: asyncio.StreamReaderProtocol(reader), pipe
                )
            except BaseException:  # cancelled while connecting: the pipe is still ours
                pipe.close()
                raise
            self._pty_transport = transport
            try:
                while True:
                    try:
                        chunk = await reader.read(CHUNK)
                    except OSError:  # EIO: the slave side closed
                        return
                    if not chunk:
                        return
                    yield chunk
            finally:
                transport.close()
                # the transport closes its pipe in a callback of the loop; a test whose
                # loop ends first left the file to the GC (CI's unit tier: 'unclosed
                # file <_io.FileIO name=14 mode='rb'>' raised in a later test)
                pipe.close()
            return
        assert self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(CHUNK):
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        if self.proc.stderr is None:
            return
        while chunk := await self.proc.stderr.read(CHUNK):
            yield chunk

    async def resize(self, width: int, height: int) -> None:
        self.resizes.append((width, height))
        if self.master is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        code = await self.proc.wait()
        return 128 - code if code < 0 else code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
        # a stdout() generator abandoned unfinished (its loop gone before its finally
        # ran) would leave its pipe to the GC: "unclosed file <_io.FileIO ... 'rb'>"
        # raised in whatever test collects it
        if self._pty_transport is not None:
            self._pty_transport.close()
        if self._pty_pipe is not None:
            self._pty_pipe.close()


@dataclass
class LocalStreams:
    """Pods named in ``pods`` (name -> containers) exist; ``ports`` maps a pod port to
    a port on 127.0.0.1."""

    pods: dict[str, list[str]] = field(default_factory=lambda: {"web": ["c"]})
    ports: dict[int, int] = field(default_factory=dict)
    sessions: list[LocalSession] = field(default_factory=list)
    forwards: int = 0
    connections: list[asyncio.StreamWriter] = field(default_factory=list)

    async def logs(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        follow: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        timestamps: bool,
        previous: bool,
        since_time: float | None = None,
        limit_bytes: int | None = None,
    ) -> AsyncIterator[bytes]:
        self._check(name, container)
        return
        yield b""  # an empty log

    def _check(self, name: str, container: str | None) -> None:
        if name not in self.pods:
            raise errors.not_found("", "pods", name)
        if container is not None and container not in self.pods[name]:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")

    async def exec(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        command: Sequence[str],
        stdin: bool,
        tty: bool,
    ) -> LocalSession:
        self._check(name, container)
        master: int | None = None
        if tty:
            master, slave = pty.openpty()
            try:
                proc = await _create(
                    *command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
                )
            finally:
                os.close(slave)
        else:
            proc = await _create(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        session = LocalSession(proc, master)
        self.sessions.append(session)
        return session

    async def attach(
        self, namespace: str, name: str, *, container: str | None, stdin: bool, tty: bool
    ) -> LocalSession:
        return await self.exec(
            namespace, name, container=container, command=["cat"], stdin=stdin, tty=tty
        )

    async def port_forward(
        self, namespace: str, name: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._check(name, None)
        self.forwards += 1
        target = self.ports.get(port)
        if target is None:
            raise errors.ApiError(
                500, "InternalError", f"failed to connect to localhost:{port}: connection refused"
            )
        reader, writer = await asyncio.open_connection("127.0.0.1", target)
        self.connections.append(writer)
        return reader, writer

    def open_connections(self) -> int:
        """Pod-side connections the server has not closed."""
        return sum(1 for w in self.connections if not w.transport.is_closing())

    def running(self) -> list[LocalSession]:
        return [s for s in self.sessions if s.proc.returncode is None]

    async def close(self) -> None:
        """Kill every session (on the server's loop, before it stops): a test that
        ends with a session running left its process and pipes to the loop's end."""
        for session in self.sessions:
            await session.kill()

    def close_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """:meth:`close` on the server's ``loop``, from the test's thread."""
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.close(), loop).result(10)


async def _create(*command: str, **kwargs: Any) -> asyncio.subprocess.Process:
    """``create_subprocess_exec`` that a cancelled caller lets finish, then kills.

    asyncio connects a new process's pipes in a task of its own; cancelled half-way
    (the server stopping under an exec being started) it leaves the pipes not yet
    connected to the GC: "unclosed file <_io.FileIO ... mode='rb'>", raised in whatever
    later test collects them. Here the creation completes, the process is killed and
    reaped, and every pipe is closed by its transport."""
    task = asyncio.ensure_future(asyncio.create_subprocess_exec(*command, **kwargs))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        proc = await task
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
