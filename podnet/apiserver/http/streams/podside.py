"""The pod end of a forwarded connection, read into one reused buffer.

A port-forward moves bulk bytes pod -> client; through an ``asyncio.StreamReader``
each chunk was received into a new ``bytes``, copied into the reader's buffer and
copied out again, in reads of at most 256 KiB (the selector transport's ``max_size``).
:class:`PodSide` takes over data delivery of the connection's transport as a
``BufferedProtocol``: ``recv_into`` one buffer of up to :data:`SIZE`, and the relay
hands a view of it straight to the stream's writer, which encrypts it (the TLS
layer's ``SSLObject.write``) before it returns. Flow control, EOF and connection loss
are still passed to the original ``StreamReaderProtocol``, so the ``StreamWriter``
(``drain``, ``close``, ``wait_closed``) keeps working for the client -> pod direction.
"""

from __future__ import annotations

import asyncio
from typing import Any

SIZE = 1024 * 1024  # the receive buffer: at most one read, at most one DATA frame


class PodSide(asyncio.BufferedProtocol):
    """Bytes from the pod: :meth:`read` returns a view valid until the next call."""

    def __init__(self, transport: asyncio.Transport, old: Any, size: int = SIZE) -> None:
        self._transport = transport
        self._old = old  # the StreamReaderProtocol: flow control and close go on to it
        self._buf = bytearray(size)
        self._view = memoryview(self._buf)
        self._filled = 0  # bytes received into the buffer
        self._taken = 0  # bytes handed to the reader (released on its next read)
        self._eof = False
        self._error: BaseException | None = None
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    @classmethod
    def take(
        cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, size: int = SIZE
    ) -> PodSide:
        """Install on ``writer``'s transport; whatever ``reader`` already holds comes
        first. (asyncio's StreamReader offers no look at its buffer without awaiting:
        its ``_buffer``/``_eof`` are read here, as they have been since 3.4.)"""
        transport = writer.transport
        assert isinstance(transport, asyncio.Transport)
        state = vars(reader)
        held: bytearray = state["_buffer"]
        side = cls(transport, transport.get_protocol(), max(size, len(held)))
        side._view[: len(held)] = held
        side._filled = len(held)
        side._eof = bool(state["_eof"]) or transport.is_closing()
        side._error = reader.exception()
        held.clear()
        transport.set_protocol(side)
        return side

    # --- the transport's side ---------------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        if self._filled == len(self._buf) and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        result: bool | None = self._old.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()
        self._old.connection_lost(exc)

    def pause_writing(self) -> None:
        self._old.pause_writing()

    def resume_writing(self) -> None:
        self._old.resume_writing()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- the relay's side -------------------------------------------------------------

    async def read(self) -> memoryview:
        """The bytes received since the last call (which releases that view), empty at
        end of stream. ``OSError`` if the connection failed."""
        if self._taken == self._filled:
            self._taken = self._filled = 0
            if self._paused:
                self._paused = False
                if not self._transport.is_closing():
                    self._transport.resume_reading()
        while self._taken == self._filled and not self._eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._taken == self._filled and self._error is not None:
            raise self._error
        start, self._taken = self._taken, self._filled
        return self._view[start : self._filled]
