"""The port-forward relay's pod end (:class:`PodSide`) over real loopback TCP: bytes the
StreamReader already held (and an EOF it already saw) come first, a consumer slower
than the pod gets every byte in order through a small buffer (reading pauses and
resumes), and the StreamWriter's drain and wait_closed keep working after the takeover.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from podnet.apiserver.http.streams.podside import PodSide

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _with_server(
    handler: Handler,
    client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(10):
            await client(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def _drain_all(side: PodSide) -> bytes:
    out = bytearray()
    while chunk := await side.read():
        out += chunk
    return bytes(out)


def test_podside_held_bytes_and_eof_come_first() -> None:
    done = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"banner\n")
        await w.drain()
        w.close()
        await w.wait_closed()
        done.set()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        for _ in range(50):  # let the loop deliver the bytes and the EOF to the reader
            await asyncio.sleep(0.01)
        side = PodSide.take(reader, writer)
        assert bytes(await side.read()) == b"banner\n"
        assert bytes(await side.read()) == b""  # would wait forever had the EOF been lost

    asyncio.run(_with_server(handler, client))


def test_podside_slow_consumer_gets_every_byte_in_order() -> None:
    blob = bytes(range(256)) * 4096 * 8  # 8 MiB

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(blob)
        await w.drain()
        w.close()
        await w.wait_closed()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        side = PodSide.take(reader, writer, size=64 * 1024)
        digest = hashlib.sha256()
        got = 0
        while chunk := await side.read():
            assert len(chunk) <= 64 * 1024
            digest.update(chunk)
            got += len(chunk)
            if got % 7 == 0 or len(chunk) == 64 * 1024:
                await asyncio.sleep(0.001)  # slower than the sender: the buffer fills
        assert got == len(blob)
        assert digest.digest() == hashlib.sha256(blob).digest()

    asyncio.run(_with_server(handler, client))


def test_podside_writer_drain_and_close_still_work() -> None:
    size = 16 * 1024 * 1024

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got = 0
        while data := await r.read(65536):
            got += len(data)
            await asyncio.sleep(0)  # a slow pod: the client's writes must wait on drain
        w.write(str(got).encode())
        await w.drain()
        w.close()
        await w.wait_closed()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        side = PodSide.take(reader, writer)
        piece = b"x" * (1024 * 1024)
        for _ in range(size // len(piece)):
            writer.write(piece)
            await writer.drain()
            assert writer.transport.get_write_buffer_size() < 4 * len(piece)
        writer.write_eof()
        assert await _drain_all(side) == str(size).encode()
        writer.close()
        await writer.wait_closed()  # connection_lost reached the StreamReaderProtocol

    asyncio.run(_with_server(handler, client))
