"""What the live cluster supplies to the API's pod subresources: ``log``, ``exec``,
``attach`` and ``portforward`` (kubelet's streaming server, reduced to calls).

The HTTP side (protocol upgrades, SPDY/WebSocket framing, channels) lives in
:mod:`podnet.apiserver.http.streams`; the pod side (processes in the pod's namespaces,
ptys, connections from inside its network namespace) in the kubelet. They meet here.
Errors a client caused (no such pod or container, container not running, nothing
listening) are raised as :class:`~podnet.apiserver.errors.ApiError` before any stream
starts, so the client gets the Status kubectl prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol


class ExecSession(Protocol):
    """One running ``exec`` (or ``attach``) process: its standard streams, its terminal
    size, its exit. With ``tty`` everything arrives on stdout (one pty)."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def stdout(self) -> AsyncIterator[bytes]:
        """Output chunks until the process's stdout closes."""
        ...

    def stderr(self) -> AsyncIterator[bytes]:
        """Error chunks until stderr closes (nothing with a tty)."""
        ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The exit code (128+N for a signal, as a shell reports it)."""
        ...

    async def kill(self) -> None:
        """End the process (the client went away); idempotent."""
        ...


class PodStreams(Protocol):
    def logs(
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
        """``since_time`` is an epoch time (at most one of it and ``since_seconds``);
        ``limit_bytes`` caps the bytes written, also while following."""
        ...

    async def exec(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        command: Sequence[str],
        stdin: bool,
        tty: bool,
    ) -> ExecSession: ...

    async def attach(
        self, namespace: str, name: str, *, container: str | None, stdin: bool, tty: bool
    ) -> ExecSession: ...

    async def port_forward(
        self, namespace: str, name: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` made from inside the pod's network namespace."""
        ...
