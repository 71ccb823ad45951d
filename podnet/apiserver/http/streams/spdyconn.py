"""A server-side SPDY/3.1 connection over any byte transport: the client opens
streams (SYN_STREAM), we reply, data flows both ways, PINGs are answered.

Shaped after what kubelet does with ``httpstream/spdy`` (``connection.go``: every
stream the client opens gets an empty SYN_REPLY; ``Close`` sends GOAWAY). Flow
control: we send WINDOW_UPDATE as the handler consumes data (SPDY/3.1 asks for it).
spdystream, the only peer kubectl has, implements none (``connection.go`` neither
sends WINDOW_UPDATE nor reads it), so our sends are not held to the peer's window;
back-pressure comes from the transport (:meth:`Connection.drain`) and, inbound,
from pausing reads while too much is queued for slow consumers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from podnet.apiserver.http.streams import spdy

CHUNK = 1024 * 1024  # largest DATA frame payload we send (the format allows 16 MiB - 1)
READ_HIGH = 4 * 1024 * 1024  # queued inbound bytes over which reading pauses


class Stream:
    """One client-opened stream: ``headers`` from its SYN_STREAM, a reader, a writer."""

    def __init__(self, conn: Connection, stream_id: int, headers: dict[str, list[str]]) -> None:
        self.conn = conn
        self.id = stream_id
        self.headers = headers
        self._chunks: deque[bytes] = deque()
        self._eof = False
        self._wake = asyncio.Event()
        self.local_closed = False  # we sent FIN or RST
        self.reset = False  # RST either way

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    def _push(self, data: bytes, fin: bool) -> None:
        if data:
            self._chunks.append(data)
        if fin:
            self._eof = True
        self._wake.set()

    async def read(self) -> bytes:
        """The next chunk, ``b""`` at end of stream (FIN, RST or connection lost)."""
        while not self._chunks:
            if self._eof:
                return b""
            self._wake.clear()
            await self._wake.wait()
        data = self._chunks.popleft()
        self.conn._consumed(self.id, len(data))
        return data

    async def write(self, data: bytes | memoryview) -> None:
        """DATA frames of ``data``; a view is sent (or copied) before this returns."""
        if self.local_closed or self.conn.closed:
            raise ConnectionResetError("SPDY stream closed")
        for i in range(0, len(data), CHUNK):
            part = data[i : i + CHUNK] if len(data) > CHUNK else data
            await self.conn.send_data([spdy.data_header(self.id, len(part)), part])

    def close(self) -> None:
        """Half-close: an empty DATA frame with FIN."""
        if not self.local_closed and not self.conn.closed:
            self.local_closed = True
            self.conn._send(spdy.encode_data(self.id, b"", spdy.FLAG_FIN))

    def cancel(self) -> None:
        """RST_STREAM CANCEL: the client drops whatever it still had queued."""
        if not self.reset and not self.conn.closed:
            self.local_closed = self.reset = True
            self.conn._control(spdy.Control(spdy.RST_STREAM, 0, self.id, value=spdy.CANCEL))
        self._push(b"", True)


class Connection:
    """``feed`` it the bytes the client sends; ``send`` writes ours (sync, e.g. a
    transport's ``write``); ``drain`` waits while the transport's buffer is full.
    ``send_many`` (e.g. ``writelines``), if given, takes a DATA frame's header and
    payload as two buffers, so the payload is not copied to prepend 8 bytes. Both
    consume (or copy) what they are given before returning: the payload may be a view
    of a buffer reused at once (a TLS transport's ``writelines`` encrypts at once).
    ``send_data`` (async), if given, replaces ``send_many`` + ``drain`` for DATA frames
    (the WebSocket tunnel writes a payload itself rather than queueing a copy).
    New streams arrive on :meth:`accept`; ``None`` once the connection has ended."""

    def __init__(
        self,
        send: Callable[[bytes], None],
        drain: Callable[[], Awaitable[None]],
        *,
        pause: Callable[[bool], None] | None = None,
        send_many: Callable[[list[bytes | memoryview]], None] | None = None,
        send_data: Callable[[list[bytes | memoryview]], Awaitable[None]] | None = None,
    ) -> None:
        self._write = send
        self._write_many = send_many
        self._write_data = send_data
        self._drain = drain
        self._pause = pause
        self._codec_out = spdy.HeaderCodec()
        self._reader = spdy.FrameReader(spdy.HeaderCodec())
        self.streams: dict[int, Stream] = {}
        self._new: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._queued = 0
        self._paused = False
        self.closed = False
        self.done = asyncio.Event()

    # --- inbound ----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            frames = self._reader.feed(data)
        except spdy.ProtocolError:
            self.goaway(1)
            self.lost()
            return
        for frame in frames:
            self._handle(frame)

    def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.Data):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return
            self._queued += len(frame.data)
            if self._pause is not None and not self._paused and self._queued > READ_HIGH:
                self._paused = True
                self._pause(True)
            stream._push(frame.data, bool(frame.flags & spdy.FLAG_FIN))
            return
        t = frame.type
        if t == spdy.SYN_STREAM:
            if frame.stream_id in self.streams or frame.stream_id % 2 == 0:
                self._control(spdy.Control(spdy.RST_STREAM, 0, frame.stream_id, value=1))
                return
            stream = Stream(self, frame.stream_id, frame.headers)
            self.streams[frame.stream_id] = stream
            self._control(spdy.Control(spdy.SYN_REPLY, 0, frame.stream_id))
            if frame.flags & spdy.FLAG_FIN:
                stream._push(b"", True)
            self._new.put_nowait(stream)
        elif t == spdy.RST_STREAM:
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream.reset = stream.local_closed = True
                stream._push(b"", True)
        elif t == spdy.PING:
            self._control(frame)  # echo: the client's ids are odd, it waits for its own
        elif t == spdy.GOAWAY:
            self.lost()
        elif t == spdy.HEADERS and frame.flags & spdy.FLAG_FIN:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._push(b"", True)
        # SETTINGS and WINDOW_UPDATE: nothing to do (see the module docstring).

    def _consumed(self, stream_id: int, n: int) -> None:
        self._queued -= n
        if self._paused and self._queued < READ_HIGH // 2 and self._pause is not None:
            self._paused = False
            self._pause(False)
        if n and not self.closed and stream_id in self.streams:
            self._control(spdy.Control(spdy.WINDOW_UPDATE, 0, stream_id, value=n))

    def lost(self) -> None:
        """The transport ended (or the client went away): every stream reads EOF."""
        if self.closed:
            return
        self.closed = True
        for stream in self.streams.values():
            stream.local_closed = True
            stream._push(b"", True)
        self._new.put_nowait(None)
        self.done.set()
        if self._paused and self._pause is not None:
            self._pause(False)

    # --- outbound ---------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if not self.closed:
            self._write(data)

    def _send_many(self, parts: list[bytes | memoryview]) -> None:
        if self.closed:
            return
        if self._write_many is not None:
            self._write_many(parts)
        else:
            self._write(b"".join(parts))

    async def send_data(self, parts: list[bytes | memoryview]) -> None:
        """One DATA frame (header, payload), sent or copied when this returns, after
        waiting while the transport is full."""
        if self.closed:
            raise ConnectionResetError("SPDY connection closed")
        if self._write_data is not None:
            await self._write_data(parts)
            return
        self._send_many(parts)
        await self.drain()

    def _control(self, frame: spdy.Control) -> None:
        # Encoded at once, in wire order: the header compressor's state must follow it.
        self._send(spdy.encode_control(frame, self._codec_out))

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("SPDY connection closed")
        await self._drain()

    async def accept(self) -> Stream | None:
        return await self._new.get()

    def forget(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)

    def goaway(self, status: int = 0) -> None:
        """GOAWAY naming the last stream the client opened (kubelet's ``conn.Close``)."""
        last = max(self.streams, default=0)
        self._control(spdy.Control(spdy.GOAWAY, 0, last, value=status))
