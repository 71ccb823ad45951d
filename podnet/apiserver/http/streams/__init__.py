"""The streaming pod subresources over HTTP: ``exec``, ``attach`` (SPDY/3.1 and
WebSocket channel protocols) and ``portforward`` (SPDY, SPDY tunnelled in WebSocket,
WebSocket channels). The pod side is a :class:`~..podstreams.PodStreams`.

Modules: :mod:`.spdy` framing, :mod:`.spdyconn` a SPDY connection, :mod:`.upgrade`
the HTTP upgrades, :mod:`.channels` exec's streams per protocol, :mod:`.exec` and
:mod:`.portforward` the two behaviours, :mod:`.websocket` the SPDY tunnel.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from podnet.apiserver.http.podstreams import ExecSession, PodStreams
from podnet.apiserver.http.streams import exec as exec_
from podnet.apiserver.http.streams import portforward as portforward_


async def serve(
    request: web.Request, streams: PodStreams, subresource: str, namespace: str, pod: Any
) -> web.StreamResponse:
    """``pods/<name>/{exec,attach,portforward}`` for ``pod`` (already read: a missing
    pod is the caller's 404)."""
    name = pod["metadata"]["name"]
    if subresource == "portforward":

        async def dial(port: int) -> Any:
            return await streams.port_forward(namespace, name, port)

        return await portforward_.serve(request, dial, name)
    attach = subresource == "attach"
    container = request.query.get("container") or None

    async def start(opts: dict[str, bool]) -> ExecSession:
        if attach:
            return await streams.attach(
                namespace, name, container=container, stdin=opts["stdin"], tty=opts["tty"]
            )
        return await streams.exec(
            namespace,
            name,
            container=container,
            command=request.query.getall("command", []),
            stdin=opts["stdin"],
            tty=opts["tty"],
        )

    return await exec_.serve(request, start, attach=attach)
