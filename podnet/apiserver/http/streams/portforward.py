"""``pods/portforward``: TCP connections into the pod, each carried by a pair of
streams (SPDY, plain or tunnelled in a WebSocket) or by two channels (WebSocket).

SPDY (kubelet ``portforward/httpstream.go``): for each forwarded connection the
client opens an ``error`` and a ``data`` stream with headers ``port`` and
``requestID``; once both are there the pod connection is made. A failure goes on
that pair's error stream as kubelet words it (``portForwardErrResponse`` JSON) and
the SPDY connection stays up for the other connections. When the copy ends the
data and error streams are closed (the client reads the error stream to EOF).
WebSocket (``portforward/websocket.go``, the Python client): ports in the query,
port i has data channel 2i and error channel 2i+1, each starting with the port as
two little-endian bytes; one connection per port; the WebSocket closes when they end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from podnet.apiserver import errors
from podnet.apiserver.http.streams import upgrade
from podnet.apiserver.http.streams.podside import PodSide
from podnet.apiserver.http.streams.spdyconn import Connection, Stream
from podnet.apiserver.http.streams.websocket import TUNNEL_PROTOCOL, Tunnel

SPDY_PROTOCOLS = ("portforward.k8s.io",)
WS_PROTOCOLS = ("v4.channel.k8s.io", "channel.k8s.io", TUNNEL_PROTOCOL)
Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def serve(request: web.Request, dial: Dial, pod: str) -> web.StreamResponse:
    if upgrade.is_websocket(request):
        ws = await upgrade.websocket(request, WS_PROTOCOLS)
        if ws.ws_protocol == TUNNEL_PROTOCOL:
            tunnel = Tunnel(ws)
            try:
                await serve_spdy(tunnel.conn, dial, pod)
            finally:
                await tunnel.close()
        else:
            await serve_channels(ws, _ports(request), dial, pod)
        return ws
    conn, _, resp = await upgrade.spdy(request, SPDY_PROTOCOLS)
    await serve_spdy(conn, dial, pod)
    return resp


def _ports(request: web.Request) -> list[int]:
    ports: list[int] = []
    for value in request.query.getall("ports", []):
        for part in value.split(","):
            try:
                port = int(part)
            except ValueError:
                raise errors.bad_request(f'unable to parse "{part}" as a port') from None
            if not 0 < port < 65536:
                raise errors.bad_request(f"port {port} must be > 0 and < 65536")
            ports.append(port)
    if not ports:
        raise errors.bad_request('query parameter "port" is required')
    return ports


def failure(port: int, pod: str, e: BaseException) -> str:
    why = e.message if isinstance(e, errors.ApiError) else str(e) or type(e).__name__
    return f"error forwarding port {port} to pod {pod}, uid : {why}"


async def serve_spdy(conn: Connection, dial: Dial, pod: str) -> None:
    """Pair the client's streams by requestID and forward each pair; returns when the
    connection ends, with every forward ended."""
    pairs: dict[str, dict[str, Stream]] = {}
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (stream := await conn.accept()) is not None:
            kind = stream.header("streamType")
            port = stream.header("port")
            if kind not in ("data", "error") or not port.isdigit() or not 0 < int(port) < 65536:
                stream.cancel()
                continue
            rid = stream.header("requestID")
            if not rid:  # clients before requestID: kubelet's stream-id arithmetic
                rid = str(stream.id if kind == "error" else stream.id - 2)
            pair = pairs.setdefault(rid, {})
            if kind in pair:
                stream.cancel()
                continue
            pair[kind] = stream
            if len(pair) == 2:
                del pairs[rid]
                task = asyncio.create_task(_forward(conn, pair["data"], pair["error"], dial, pod))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not conn.closed:
            conn.goaway()
        conn.lost()


async def _forward(conn: Connection, data: Stream, error: Stream, dial: Dial, pod: str) -> None:
    port = int(data.header("port"))
    try:
        try:
            reader, writer = await dial(port)
        except (errors.ApiError, OSError) as e:
            body = {"closeConnection": True, "message": failure(port, pod, e)}
            with contextlib.suppress(ConnectionError):
                await error.write(json.dumps(body).encode() + b"\n")
            return
        try:
            await _relay(reader, writer, data.read, data.write, data.close)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    finally:
        data.close()
        error.close()
        conn.forget(data)
        conn.forget(error)


async def _relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    read: Callable[[], Awaitable[bytes]],
    write: Callable[[memoryview], Awaitable[None]],
    close: Callable[[], None],
) -> None:
    """Client -> pod and pod -> client until the pod's side ends (half-closes passed on).
    ``write`` gets a view of :class:`.podside.PodSide`'s buffer: it must consume or copy
    it before it returns (the buffer is reused)."""
    pod = PodSide.take(reader, writer)

    async def up() -> None:
        while chunk := await read():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    up_task = asyncio.create_task(up())
    try:
        while chunk := await pod.read():
            await write(chunk)
        close()  # the pod's side ended: so does the forward (1.20 waits for it)
    except (ConnectionError, OSError):
        pass
    finally:
        up_task.cancel()
        await asyncio.gather(up_task, return_exceptions=True)


async def serve_channels(ws: web.WebSocketResponse, ports: list[int], dial: Dial, pod: str) -> None:
    queues: list[asyncio.Queue[bytes]] = [asyncio.Queue() for _ in ports]

    async def send(channel: int, data: bytes | memoryview) -> None:
        if not ws.closed:
            await ws.send_bytes(bytes([channel]) + data)  # a copy: the view is not kept

    async def one(i: int, port: int) -> None:
        head = struct.pack("<H", port)
        await send(2 * i, head)
        await send(2 * i + 1, head)
        try:
            reader, writer = await dial(port)
        except (errors.ApiError, OSError) as e:
            await send(2 * i + 1, failure(port, pod, e).encode())
            return
        try:
            await _relay(reader, writer, queues[i].get, lambda d: send(2 * i, d), lambda: None)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def receive() -> None:
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY and len(msg.data) > 1:
                    index, rem = divmod(msg.data[0], 2)
                    if rem == 0 and index < len(queues):
                        queues[index].put_nowait(msg.data[1:])
        finally:
            for q in queues:
                q.put_nowait(b"")

    reader_task = asyncio.create_task(receive())
    forwards = [asyncio.create_task(one(i, p)) for i, p in enumerate(ports)]
    ended = asyncio.ensure_future(_all(forwards))
    try:
        await asyncio.wait([ended, reader_task], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in forwards:
            task.cancel()
        await asyncio.gather(*forwards, return_exceptions=True)
        if not ws.closed:
            await ws.close()
        reader_task.cancel()
        ended.cancel()
        await asyncio.gather(reader_task, ended, return_exceptions=True)


async def _all(tasks: list[asyncio.Task[None]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
