"""The server-side SPDY connection: streams replied to, data in order, WINDOW_UPDATE
for what the handler consumed, PING answered, RST and a lost transport end reads,
reading paused while too much waits for a slow consumer."""

from __future__ import annotations

import asyncio

from podnet.apiserver.http.streams import spdy, spdyconn
from podnet.apiserver.http.streams.spdy import Control, Data, FrameReader, HeaderCodec


class Peer:
    """The client side: encodes what it sends, decodes what the server wrote."""

    def __init__(self) -> None:
        self.out_codec = HeaderCodec()
        self.reader = FrameReader(HeaderCodec())
        self.wire: list[bytes] = []
        self.paused: list[bool] = []

    def frames(self) -> list[Control | Data]:
        data, self.wire[:] = b"".join(self.wire), []
        return self.reader.feed(data)

    def syn(self, sid: int, **headers: str) -> bytes:
        frame = Control(spdy.SYN_STREAM, 0, sid, {k: [v] for k, v in headers.items()})
        return spdy.encode_control(frame, self.out_codec)


async def _drain() -> None:
    return None


def _conn(peer: Peer) -> spdyconn.Connection:
    return spdyconn.Connection(peer.wire.append, _drain, pause=peer.paused.append)


def test_streams_reply_read_write_and_window_updates() -> None:
    async def main() -> None:
        peer = Peer()
        conn = _conn(peer)
        conn.feed(peer.syn(1, streamType="stdin") + peer.syn(3, streamType="stdout"))
        stdin, stdout = await conn.accept(), await conn.accept()
        assert stdin is not None and stdout is not None
        assert (stdin.header("streamType"), stdout.id) == ("stdin", 3)
        assert peer.frames() == [Control(spdy.SYN_REPLY, 0, 1), Control(spdy.SYN_REPLY, 0, 3)]

        conn.feed(spdy.encode_data(1, b"abc") + spdy.encode_data(1, b"de", spdy.FLAG_FIN))
        assert [await stdin.read(), await stdin.read(), await stdin.read()] == [b"abc", b"de", b""]
        # consumed bytes are handed back to the sender's window
        assert peer.frames() == [
            Control(spdy.WINDOW_UPDATE, 0, 1, value=3),
            Control(spdy.WINDOW_UPDATE, 0, 1, value=2),
        ]
        await stdout.write(b"x" * (spdyconn.CHUNK + 1))
        stdout.close()
        assert peer.frames() == [
            Data(3, b"x" * spdyconn.CHUNK),
            Data(3, b"x"),
            Data(3, b"", spdy.FLAG_FIN),
        ]

    asyncio.run(main())


def test_ping_echoed_rst_ends_reads_duplicate_syn_refused() -> None:
    async def main() -> None:
        peer = Peer()
        conn = _conn(peer)
        conn.feed(spdy.encode_control(Control(spdy.PING, value=5), peer.out_codec))
        conn.feed(peer.syn(1, streamType="data"))
        stream = await conn.accept()
        assert stream is not None
        conn.feed(peer.syn(1, streamType="data"))  # the same id again
        conn.feed(spdy.encode_control(Control(spdy.RST_STREAM, 0, 1, value=5), peer.out_codec))
        assert await stream.read() == b""
        assert peer.frames() == [
            Control(spdy.PING, value=5),
            Control(spdy.SYN_REPLY, 0, 1),
            Control(spdy.RST_STREAM, 0, 1, value=spdy.PROTOCOL_ERROR),
        ]

    asyncio.run(main())


def test_lost_transport_ends_every_stream_and_accept() -> None:
    async def main() -> None:
        peer = Peer()
        conn = _conn(peer)
        conn.feed(peer.syn(1, streamType="error"))
        stream = await conn.accept()
        assert stream is not None
        conn.lost()
        assert await stream.read() == b""
        assert await conn.accept() is None
        assert conn.done.is_set()

    asyncio.run(main())


def test_reading_pauses_while_a_consumer_lags() -> None:
    async def main() -> None:
        peer = Peer()
        conn = _conn(peer)
        conn.feed(peer.syn(1, streamType="data"))
        stream = await conn.accept()
        assert stream is not None
        chunk = b"z" * 65536
        for _ in range(spdyconn.READ_HIGH // len(chunk) + 1):
            conn.feed(spdy.encode_data(1, chunk))
        assert peer.paused == [True]
        while len(peer.paused) == 1:
            assert await stream.read() == chunk
        assert peer.paused == [True, False]

    asyncio.run(main())


def test_garbage_ends_the_connection_with_goaway() -> None:
    async def main() -> None:
        peer = Peer()
        conn = _conn(peer)
        conn.feed(bytes.fromhex("80020001 00000000"))  # SPDY/2
        assert conn.closed
        assert peer.frames() == [Control(spdy.GOAWAY, 0, 0, value=1)]

    asyncio.run(main())
