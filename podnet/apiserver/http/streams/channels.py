"""The exec/attach streams (stdin, stdout, stderr, error, resize) over either wire
protocol, behind one interface :class:`ExecIO` that :mod:`.exec` drives.

SPDY: the client opens one stream per channel, told apart by the ``streamType``
header; we wait for all it must open (kubelet ``remotecommand/httpstream.go``,
``waitForStreams``: error, plus stdin/stdout/stderr as asked, plus resize with a tty
from v3 on), for at most :data:`STREAM_CREATION_TIMEOUT`.
WebSocket (``remotecommand/websocket.go``, ``wsstream/conn.go``): one message per
write, its first byte the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize);
base64 subprotocols carry the channel as an ASCII digit and the payload base64;
v5 adds ``[255, channel]`` = the client closed that channel (stdin EOF). An empty
message on the first writable channel tells the client the streams are up.
Error channel: v4/v5 a JSON ``metav1.Status``; before v4 the message text, and
nothing on success (``v1WriteStatusFunc``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from podnet.apiserver.http.streams.spdyconn import Connection, Stream

STREAM_CREATION_TIMEOUT = 30.0  # kubelet's DefaultStreamCreationTimeout
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
WS_PROTOCOLS = (V5, V4, "v4.base64.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io")
SPDY_PROTOCOLS = (V5, V4, "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", "")


def json_status(protocol: str) -> bool:
    return protocol.startswith(("v4.", "v5."))


def _status_bytes(status: dict[str, Any], as_json: bool) -> bytes:
    if as_json:
        return json.dumps(status, separators=(",", ":")).encode()
    return b"" if status.get("status") == "Success" else str(status.get("message", "")).encode()


class _Sizes:
    """Terminal sizes from a stream of concatenated JSON objects
    (``{"Width":80,"Height":24}``, kubelet ``handleResizeEvents``)."""

    def __init__(self) -> None:
        self._buf = ""
        self._dec = json.JSONDecoder()

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        self._buf += data.decode(errors="replace")
        out: list[tuple[int, int]] = []
        while self._buf.strip():
            self._buf = self._buf.lstrip()
            try:
                obj, end = self._dec.raw_decode(self._buf)
            except json.JSONDecodeError:
                break
            self._buf = self._buf[end:]
            if isinstance(obj, dict):
                out.append((int(obj.get("Width") or 0), int(obj.get("Height") or 0)))
        return out


class ExecIO:
    """What :func:`.exec.run` needs from a protocol. ``gone`` is set when the client
    has gone away (connection lost, closed, or killed)."""

    def __init__(self, stdin: bool, stdout: bool, stderr: bool) -> None:
        self.has = {STDIN: stdin, STDOUT: stdout, STDERR: stderr}
        self.gone = asyncio.Event()

    async def read_stdin(self) -> bytes:  # b"" at EOF
        raise NotImplementedError

    async def write(self, channel: int, data: bytes) -> None:
        raise NotImplementedError

    def sizes(self) -> AsyncIterator[tuple[int, int]]:
        raise NotImplementedError

    async def finish(self, status: dict[str, Any]) -> None:
        """End stdout/stderr, send the status, close the connection."""
        raise NotImplementedError


class SpdyExecIO(ExecIO):
    def __init__(self, conn: Connection, protocol: str, opts: dict[str, bool]) -> None:
        super().__init__(opts["stdin"], opts["stdout"], opts["stderr"])
        self.conn = conn
        self.protocol = protocol
        self.streams: dict[str, Stream] = {}
        self.resize = opts["tty"] and protocol not in ("v2.channel.k8s.io", "channel.k8s.io", "")
        self._watch: asyncio.Task[None] | None = None

    async def open(self) -> bool:
        """Wait for the client's streams; False if it gave up or timed out."""
        want = {"error"} | {n for n, ch in (("stdin", 0), ("stdout", 1), ("stderr", 2))
                            if self.has[ch]}  # fmt: skip
        if self.resize:
            want.add("resize")
        try:
            async with asyncio.timeout(STREAM_CREATION_TIMEOUT):
                while not want <= set(self.streams):
                    stream = await self.conn.accept()
                    if stream is None:
                        return False
                    self.streams[stream.header("streamType")] = stream
        except TimeoutError:
            return False
        self._watch = asyncio.create_task(self._watch_gone())
        return True

    async def _watch_gone(self) -> None:
        await self.conn.done.wait()
        self.gone.set()

    async def read_stdin(self) -> bytes:
        return await self.streams["stdin"].read()

    async def write(self, channel: int, data: bytes) -> None:
        name = {STDOUT: "stdout", STDERR: "stderr"}[channel]
        stream = self.streams.get(name)
        if stream is not None:
            await stream.write(data)

    async def sizes(self) -> AsyncIterator[tuple[int, int]]:
        stream = self.streams.get("resize")
        if stream is None:
            return
        parser = _Sizes()
        while data := await stream.read():
            for size in parser.feed(data):
                yield size

    async def finish(self, status: dict[str, Any]) -> None:
        for name in ("stdout", "stderr"):
            if name in self.streams:
                self.streams[name].close()
        err = self.streams["error"]
        if not self.conn.closed:
            payload = _status_bytes(status, json_status(self.protocol))
            if payload:
                await err.write(payload)
            err.close()
            self.conn.goaway()
        await self.close()

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)


class WsExecIO(ExecIO):
    def __init__(self, ws: web.WebSocketResponse, opts: dict[str, bool]) -> None:
        super().__init__(opts["stdin"], opts["stdout"], opts["stderr"])
        self.ws = ws
        self.protocol = ws.ws_protocol or ""
        self.b64 = "base64" in self.protocol
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._sizes: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> bool:
        self._reader = asyncio.create_task(self._read())
        first = next((c for c in (STDOUT, STDERR) if self.has[c]), ERROR)
        await self._send(first, b"")
        return True

    async def _read(self) -> None:
        sizes = _Sizes()
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    data: bytes = msg.data
                elif msg.type == WSMsgType.TEXT and msg.data:
                    # wsstream receives text frames as bytes too (the Python client
                    # writes str stdin as text); base64 protocols: digit + base64.
                    text: str = msg.data
                    if self.b64:
                        data = bytes([ord(text[0]) - 48]) + base64.b64decode(text[1:])
                    else:
                        data = text.encode()
                else:
                    continue
                if not data:
                    continue
                if data[0] == CLOSE and self.protocol == V5 and len(data) == 2:
                    if data[1] == STDIN:
                        self._stdin.put_nowait(b"")
                elif data[0] == STDIN and len(data) > 1:
                    self._stdin.put_nowait(data[1:])
                elif data[0] == RESIZE:
                    for size in sizes.feed(data[1:]):
                        self._sizes.put_nowait(size)
        finally:
            self._stdin.put_nowait(b"")
            self._sizes.put_nowait(None)
            self.gone.set()

    async def _send(self, channel: int, data: bytes) -> None:
        if self.b64:
            await self.ws.send_str(chr(48 + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    async def read_stdin(self) -> bytes:
        return await self._stdin.get()

    async def write(self, channel: int, data: bytes) -> None:
        if self.has[channel] and not self.ws.closed:
            await self._send(channel, data)

    async def sizes(self) -> AsyncIterator[tuple[int, int]]:
        while (size := await self._sizes.get()) is not None:
            yield size

    async def finish(self, status: dict[str, Any]) -> None:
        if not self.ws.closed:
            payload = _status_bytes(status, json_status(self.protocol))
            if payload:
                await self._send(ERROR, payload)
            await self.ws.close()
        await self.close()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
