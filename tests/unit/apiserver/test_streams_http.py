"""exec and port-forward over HTTP in process, with :class:`LocalStreams` as the pod
side: Status errors before any upgrade, the WebSocket channel framing (v4, v5 close,
base64), SPDY spoken by a client built from our own framer, and nothing left behind
(process killed, server tasks back to what they were) when a client vanishes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.local_podstreams import LocalStreams

from podnet.apiserver import auth, certs, resources
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.http.streams import spdy
from podnet.apiserver.http.streams.spdy import Control, Data, FrameReader, HeaderCodec
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore

PODS = resources.by_path("", "v1", "pods")
EXEC = "/api/v1/namespaces/default/pods/web/exec"


@dataclass
class Api:
    port: int
    ctx: ssl.SSLContext
    token: str
    server: ServerThread
    streams: LocalStreams

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        try:
            conn.request(method, path, headers={"Authorization": f"Bearer {self.token}",
                                                **(headers or {})})  # fmt: skip
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, dict(resp.getheaders()), json.loads(body) if body else None
        finally:
            conn.close()

    def tasks(self) -> int:
        loop = self.server._loop
        assert loop is not None

        async def count() -> int:
            return len(asyncio.all_tasks())

        return asyncio.run_coroutine_threadsafe(count(), loop).result(5)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    assert PODS is not None
    tls = certs.ensure(tmp_path)
    token = auth.ensure_token(tmp_path)
    store = MemoryStore()
    registry = Registry(store)
    registry.create(resources.RESOURCES[0], None, {"metadata": {"name": "default"}})
    pod = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    registry.create(PODS, "default", pod)
    server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
    port = server.start()
    streams = LocalStreams()
    assert server.server is not None
    server.server.pod_streams = streams
    try:
        yield Api(port, tls.client_context(), token, server, streams)
    finally:
        streams.close_on(server._loop)
        server.stop()
        store.close()


SPDY_UPGRADE = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}


@pytest.mark.parametrize(
    ("path", "headers", "code", "message"),
    [
        (EXEC + "?stdout=1", SPDY_UPGRADE, 400, "you must specify at least one command"),
        (EXEC + "?command=true", SPDY_UPGRADE, 400, "at least 1 of stdin, stdout, stderr"),
        (EXEC.replace("web", "nope") + "?command=true&stdout=1", SPDY_UPGRADE, 404,
         'pods "nope" not found'),
        (EXEC + "?command=true&stdout=1&container=x", SPDY_UPGRADE, 400,
         "container x is not valid for pod web"),
        (EXEC + "?command=true&stdout=1", {}, 400, "missing upgrade headers"),
        (EXEC + "?command=true&stdout=1",
         {**SPDY_UPGRADE, "X-Stream-Protocol-Version": "v9.channel.k8s.io"}, 403,
         "unable to negotiate protocol"),
        ("/api/v1/namespaces/default/pods/web/portforward",
         {**SPDY_UPGRADE, "X-Stream-Protocol-Version": "v4.channel.k8s.io"}, 403,
         "unable to negotiate protocol"),
    ],
)  # fmt: skip
def test_errors_are_statuses_before_the_upgrade(
    api: Api, path: str, headers: dict[str, str], code: int, message: str
) -> None:
    status, resp_headers, body = api.request("POST", path, headers)
    assert status == code
    assert body["kind"] == "Status" and message in body["message"], body
    if code == 403:
        assert resp_headers["X-Accepted-Stream-Protocol-Versions"]
    time.sleep(0.1)
    assert not api.streams.running()  # a process started before a failed upgrade is gone


def _ws_url(api: Api, query: str) -> str:
    return f"wss://127.0.0.1:{api.port}{EXEC}?{query}"


async def _ws_exec(
    api: Api, query: str, protocol: str, stdin: list[bytes]
) -> list[tuple[int, bytes]]:
    got: list[tuple[int, bytes]] = []
    headers = {"Authorization": f"Bearer {api.token}"}
    url = _ws_url(api, query)
    async with (
        aiohttp.ClientSession(headers=headers) as s,
        s.ws_connect(url, protocols=[protocol], ssl=api.ctx) as ws,
    ):
        assert ws.protocol == protocol
        for data in stdin:
            if "base64" in protocol:
                await ws.send_str(chr(48 + data[0]) + base64.b64encode(data[1:]).decode())
            else:
                await ws.send_bytes(data)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                got.append((msg.data[0], msg.data[1:]))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                got.append((ord(msg.data[0]) - 48, base64.b64decode(msg.data[1:])))
    await asyncio.sleep(0.1)  # aiohttp: let the TLS transports finish closing
    return got


def _by_channel(got: list[tuple[int, bytes]]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for ch, data in got:
        out[ch] = out.get(ch, b"") + data
    return out


def test_websocket_v5_stdin_close_stdout_stderr_and_exit_status(api: Api) -> None:
    query = "command=sh&command=-c&command=cat;echo+e>%262;exit+3&stdin=1&stdout=1&stderr=1"
    got = asyncio.run(_ws_exec(api, query, "v5.channel.k8s.io", [b"\x00hi\n", b"\xff\x00"]))
    assert got[0] == (1, b"")  # "the streams are up": empty frame on the first output
    chans = _by_channel(got)
    assert (chans[1], chans[2]) == (b"hi\n", b"e\n")
    status = json.loads(chans[3])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"])
def test_websocket_v4_success(api: Api, protocol: str) -> None:
    got = asyncio.run(_ws_exec(api, "command=echo&command=ok&stdout=1", protocol, []))
    chans = _by_channel(got)
    assert chans[1] == b"ok\n"
    assert json.loads(chans[3]) == {"metadata": {}, "status": "Success"}


def test_websocket_protocol_not_offered_is_400(api: Api) -> None:
    async def main() -> int:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api.token}"}) as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                await s.ws_connect(_ws_url(api, "command=true&stdout=1"),
                                   protocols=["v9.channel.k8s.io"], ssl=api.ctx)  # fmt: skip
            return e.value.status

    assert asyncio.run(main()) == 400


class SpdyClient:
    """kubectl 1.20's side of an exec, from our framer: upgrade, open streams, read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.out, self.frames = HeaderCodec(), FrameReader(HeaderCodec())
        self.next_id = 1

    @classmethod
    async def connect(cls, api: Api, path: str, protocol: str) -> SpdyClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", api.port, ssl=api.ctx)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            f"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            f"X-Stream-Protocol-Version: {protocol}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert f"X-Stream-Protocol-Version: {protocol}".encode() in head
        return cls(reader, writer)

    def open(self, **headers: str) -> int:
        sid, self.next_id = self.next_id, self.next_id + 2
        frame = Control(spdy.SYN_STREAM, 0, sid, {k: [v] for k, v in headers.items()})
        self.writer.write(spdy.encode_control(frame, self.out))
        return sid

    def send(self, sid: int, data: bytes, fin: bool = False) -> None:
        self.writer.write(spdy.encode_data(sid, data, spdy.FLAG_FIN if fin else 0))

    async def until_goaway(self) -> list[Control | Data]:
        got: list[Control | Data] = []
        async with asyncio.timeout(10):
            while not any(isinstance(f, Control) and f.type == spdy.GOAWAY for f in got):
                data = await self.reader.read(65536)
                if not data:
                    break
                got += self.frames.feed(data)
        return got

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


def test_spdy_exec_v4_with_stdin_and_window_updates(api: Api) -> None:
    async def main() -> list[Control | Data]:
        path = EXEC + "?command=sh&command=-c&command=cat;exit+2&stdin=1&stdout=1"
        c = await SpdyClient.connect(api, path, "v4.channel.k8s.io")
        err = c.open(streamtype="error")
        stdin = c.open(streamtype="stdin")
        out = c.open(streamtype="stdout")
        c.send(stdin, b"through spdy\n", fin=True)
        frames = await c.until_goaway()
        await c.close()
        assert {f.stream_id for f in frames if isinstance(f, Control)
                and f.type == spdy.SYN_REPLY} == {err, stdin, out}  # fmt: skip
        return frames

    frames = asyncio.run(main())
    data = {sid: b"".join(f.data for f in frames if isinstance(f, Data) and f.stream_id == sid)
            for sid in (1, 5)}  # fmt: skip
    assert data[5] == b"through spdy\n"
    status = json.loads(data[1])
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]
    updates = [f for f in frames if isinstance(f, Control) and f.type == spdy.WINDOW_UPDATE]
    assert sum(f.value for f in updates if f.stream_id == 3) == len(b"through spdy\n")
    fins = {f.stream_id for f in frames if isinstance(f, Data) and f.flags & spdy.FLAG_FIN}
    assert fins == {1, 5}  # stdout and error closed; the client reads error to EOF


def test_client_vanishing_kills_the_process_and_ends_every_task(api: Api) -> None:
    before = api.tasks()

    async def main() -> None:
        path = EXEC + "?command=sleep&command=300&stdout=1&stderr=1"
        c = await SpdyClient.connect(api, path, "v4.channel.k8s.io")
        for kind in ("error", "stdout", "stderr"):
            c.open(streamtype=kind)
        await c.writer.drain()
        deadline = time.monotonic() + 10
        while not api.streams.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert api.streams.running()
        c.writer.transport.abort()  # gone without a word

    asyncio.run(main())
    deadline = time.monotonic() + 10
    while (api.streams.running() or api.tasks() > before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not api.streams.running()
    assert api.streams.sessions[-1].killed
    assert api.tasks() <= before


def test_spdy_port_forward_pairs_errors_and_keeps_the_connection(api: Api) -> None:
    async def main() -> list[Control | Data]:
        async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(await r.read())  # until the client half-closes
            w.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        api.streams.ports[80] = server.sockets[0].getsockname()[1]
        try:
            path = "/api/v1/namespaces/default/pods/web/portforward"
            c = await SpdyClient.connect(api, path, "portforward.k8s.io")
            c.open(streamtype="error", port="81", requestid="0")  # 1: nothing listens
            c.open(streamtype="data", port="81", requestid="0")  # 3
            c.open(streamtype="error", port="80", requestid="1")  # 5
            data = c.open(streamtype="data", port="80", requestid="1")  # 7
            c.send(data, b"ping through the pod", fin=True)
            got: list[Control | Data] = []
            async with asyncio.timeout(10):
                while {1, 5} - {f.stream_id for f in got if isinstance(f, Data) and f.flags}:
                    got += c.frames.feed(await c.reader.read(65536))
            await c.close()
            return got
        finally:
            server.close()
            await server.wait_closed()

    got = asyncio.run(main())

    def body(sid: int) -> bytes:
        return b"".join(f.data for f in got if isinstance(f, Data) and f.stream_id == sid)

    assert json.loads(body(1)) == {
        "closeConnection": True,
        "message": "error forwarding port 81 to pod web, uid : "
        "failed to connect to localhost:81: connection refused",
    }
    assert body(7) == b"ping through the pod"
    assert body(5) == b""


def test_websocket_attach_passes_stdin_through(api: Api) -> None:
    # LocalStreams attaches to a `cat`: what goes in comes out, stdin's close ends it
    query = "stdin=1&stdout=1&container=c"
    url = _ws_url(api, query).replace("/exec?", "/attach?")

    async def main() -> list[tuple[int, bytes]]:
        got: list[tuple[int, bytes]] = []
        headers = {"Authorization": f"Bearer {api.token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as s,
            s.ws_connect(url, protocols=["v5.channel.k8s.io"], ssl=api.ctx) as ws,
        ):
            await ws.send_bytes(b"\x00attached\n")
            await ws.send_bytes(b"\xff\x00")
            async for msg in ws:
                got.append((msg.data[0], msg.data[1:]))
        await asyncio.sleep(0.1)
        return got

    chans = _by_channel(asyncio.run(main()))
    assert chans[1] == b"attached\n"
    assert json.loads(chans[3])["status"] == "Success"
    assert not api.streams.running()
