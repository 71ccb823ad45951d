"""Protocol upgrades on an aiohttp request: SPDY/3.1 (``101 Switching Protocols``,
then raw SPDY frames on the same TLS connection) and WebSocket with the channel
subprotocols, each negotiated the way upstream does it.

SPDY: ``httpstream.Handshake`` (the client's ``X-Stream-Protocol-Version`` list in its
order, the first the server supports; none -> 403 naming the accepted ones in
``X-Accepted-Stream-Protocol-Versions``) and ``httpstream/spdy/upgrade.go``
(``Connection: Upgrade`` and ``Upgrade: SPDY/3.1`` required, else 400). aiohttp's
HTTP parser only switches protocols for ``websocket``/``tcp``, so the SPDY bytes are
taken over by installing our own payload parser before the 101 goes out (the client
sends nothing before it reads the 101).
WebSocket: ``wsstream`` handshake (the client's subprotocols in order); a client that
offered none we speak gets a 400 Status rather than aiohttp's protocol-less accept.
"""

from __future__ import annotations

from aiohttp import web

from podnet.apiserver import errors
from podnet.apiserver.http.streams.spdyconn import Connection

PROTOCOL_HEADER = "X-Stream-Protocol-Version"
ACCEPTED_HEADER = "X-Accepted-Stream-Protocol-Versions"


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").strip().lower() == "websocket"


def offered(request: web.Request, header: str) -> list[str]:
    out: list[str] = []
    for line in request.headers.getall(header, []):
        out += [p.strip() for p in line.split(",") if p.strip()]
    return out


class _Feed:
    """What aiohttp's RequestHandler calls once installed with ``set_parser``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.conn.feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self.conn.lost()


async def spdy(
    request: web.Request, protocols: tuple[str, ...]
) -> tuple[Connection, str, web.StreamResponse]:
    """Answer 101 and return the SPDY connection and the negotiated protocol."""
    conn_hdr = request.headers.get("Connection", "").lower()
    if "upgrade" not in conn_hdr or request.headers.get("Upgrade", "").lower() != "spdy/3.1":
        raise errors.bad_request("unable to upgrade: missing upgrade headers in request")
    asked = offered(request, PROTOCOL_HEADER)
    chosen = next((p for p in asked if p in protocols), None)
    if chosen is None:
        if asked or "" not in protocols:
            err = errors.ApiError(
                403,
                "Forbidden",
                f"unable to upgrade: unable to negotiate protocol: client supports "
                f"{asked}, server accepts {list(protocols)}",
            )
            err.headers[ACCEPTED_HEADER] = ", ".join(p for p in protocols if p)
            raise err
        chosen = ""
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("client went away before the upgrade")
    resp = web.StreamResponse(status=101)
    resp.headers["Connection"] = "Upgrade"
    resp.headers["Upgrade"] = "SPDY/3.1"
    if chosen:
        resp.headers[PROTOCOL_HEADER] = chosen
    resp.force_close()

    def pause(on: bool) -> None:
        if not transport.is_closing():
            (transport.pause_reading if on else transport.resume_reading)()

    async def drain() -> None:
        writer = resp._payload_writer  # the response's writer waits while the transport is full
        if writer is not None:
            await writer.drain()

    conn = Connection(transport.write, drain, pause=pause, send_many=transport.writelines)
    request.protocol.set_parser(_Feed(conn))  # type: ignore[arg-type]
    await resp.prepare(request)
    return conn, chosen, resp


async def websocket(
    request: web.Request, protocols: tuple[str, ...], *, max_msg_size: int = 16 << 20
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(
        protocols=[p for p in protocols if p], max_msg_size=max_msg_size, autoping=True
    )
    asked = offered(request, "Sec-WebSocket-Protocol")
    if not any(p in protocols for p in asked) and not ("" in protocols and not asked):
        raise errors.bad_request(
            f"unable to upgrade: requested protocol(s) are not supported: {asked}; "
            f"supports {[p for p in protocols if p]}"
        )
    await ws.prepare(request)
    return ws
