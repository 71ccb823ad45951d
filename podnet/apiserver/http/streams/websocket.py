"""SPDY tunnelled in a WebSocket (KEP-4006): kubectl 1.31+ port-forward asks for the
subprotocol ``SPDY/3.1+portforward.k8s.io`` and then writes SPDY bytes as binary
messages (client-go ``tools/portforward/tunneling_connection.go``: any message
boundary, the payload is one byte stream each way). kube-apiserver unwraps it in
``apiserver/pkg/util/proxy/streamtunnel.go``; here the bytes feed the same
:class:`~.spdyconn.Connection` a plain SPDY upgrade does.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from podnet.apiserver.http.streams.spdyconn import Connection

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
HIGH_WATER = 1 << 20  # outbound bytes buffered before writers wait
BIG = 64 * 1024  # a piece sent as its own message rather than joined


class Tunnel:
    """A SPDY :class:`Connection` over ``ws``: one task reads messages into it, one
    writes what it sends, coalesced into binary messages."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._out: list[bytes] = []
        self._size = 0
        self._more = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._sending = asyncio.Lock()  # one writer of WebSocket messages at a time
        self.conn = Connection(
            self._send, self._drain, send_many=self._send_many, send_data=self._send_data
        )
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer())]

    def _send(self, data: bytes | memoryview) -> None:
        # Queued for the writer task: a view of the relay's buffer is copied now.
        self._out.append(data if isinstance(data, bytes) else bytes(data))
        self._size += len(data)
        self._more.set()
        if self._size > HIGH_WATER:
            self._room.clear()

    def _send_many(self, parts: list[bytes | memoryview]) -> None:
        for part in parts:
            self._send(part)

    async def _drain(self) -> None:
        await self._room.wait()

    async def _send_data(self, parts: list[bytes | memoryview]) -> None:
        """A DATA frame: written as its own messages straight away when nothing is
        queued or being written (aiohttp writes a frame to the TLS transport before its
        first await, so a view of the relay's buffer is consumed), else queued (copied)
        behind what is, keeping the byte stream in order."""
        if self._out or self._sending.locked():
            self._send_many(parts)
            await self._drain()
            return
        async with self._sending:
            try:
                for part in parts:  # typed bytes; it takes memoryview too (web_ws.py)
                    await self.ws.send_bytes(part)  # type: ignore[arg-type]
            except ConnectionError:
                self.conn.lost()
                raise

    async def _reader(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    self.conn.feed(msg.data)
        finally:
            self.conn.lost()
            self._room.set()

    async def _writer(self) -> None:
        while not self.ws.closed:
            await self._more.wait()
            self._more.clear()
            out, self._out, self._size = self._out, [], 0
            self._room.set()
            try:
                async with self._sending:
                    for data in _coalesce(out):
                        await self.ws.send_bytes(data)
            except ConnectionError:
                self.conn.lost()
                return

    async def close(self) -> None:
        """Flush what is queued, close the WebSocket, end both tasks."""
        reader, writer = self._tasks
        for _ in range(100):
            if not self._out or writer.done():
                break
            await asyncio.sleep(0.01)
        writer.cancel()
        if not self.ws.closed:
            await self.ws.close()
        reader.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _coalesce(parts: list[bytes]) -> list[bytes]:
    """Runs of small pieces (frame headers, control frames) joined into one message;
    a payload of ``BIG`` bytes or more goes as its own message, not copied into a join
    (the tunnel's messages may split the byte stream anywhere)."""
    out: list[bytes] = []
    small: list[bytes] = []
    for part in parts:
        if len(part) >= BIG:
            if small:
                out.append(b"".join(small))
                small = []
            out.append(part)
        elif part:
            small.append(part)
    if small:
        out.append(b"".join(small))
    return out
