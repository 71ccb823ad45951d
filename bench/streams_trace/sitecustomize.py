"""Timestamps inside ``podnet up`` for bench_streams.py's server-side exec figures.

Loaded by Python's ``site`` when this directory is on ``PYTHONPATH`` (bench_streams.py
``--trace`` puts it there for the ``up`` child only) and ``PODNET_STREAMS_TRACE`` names a
file; otherwise it does nothing. It wraps a few functions of the exec path and appends
one JSON line per exec with ``time.perf_counter()`` readings (CLOCK_MONOTONIC, the same
clock the bench client reads): the request's bytes handed to aiohttp, the handler
entered, the process started, the ``101`` sent, the exit seen (pidfd), the Status
frame written. With ``PODNET_STREAMS_TRACE_ALTERNATE`` every other exec runs crun from
its file instead of the sealed copy (``"sealed": 0`` in its line). Nothing here runs in
a normal ``up``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def _install(path: str) -> None:
    from aiohttp import web_protocol

    from podnet.apiserver.http.streams import channels, upgrade
    from podnet.apiserver.http.streams import exec as exec_
    from podnet.dataplane.runtime.pods import Runtime
    from podnet.dataplane.sandbox.namespaces import Sandbox
    from podnet.live import kubelet_streams

    now = time.perf_counter
    current: dict[str, float] = {}
    rx: dict[int, float] = {}  # id(RequestHandler) -> its last data_received (it has slots)

    received = web_protocol.RequestHandler.data_received

    def data_received(self: Any, data: bytes) -> None:
        rx[id(self)] = now()
        received(self, data)

    web_protocol.RequestHandler.data_received = data_received  # type: ignore[method-assign]

    serve = exec_.serve

    async def traced_serve(request: Any, start: Any, *, attach: bool) -> Any:
        current.clear()
        current["tag"] = float(request.query.get("benchTag") or 0)
        current["rx"] = rx.pop(id(request.protocol), 0.0)
        current["handler"] = now()

        async def traced_start(opts: Any) -> Any:
            session = await start(opts)
            current["started"] = now()
            return session

        try:
            return await serve(request, traced_start, attach=attach)
        finally:
            current["end"] = now()
            with open(path, "a") as f:
                f.write(json.dumps(current) + "\n")

    exec_.serve = traced_serve

    websocket = upgrade.websocket

    async def traced_websocket(*args: Any, **kw: Any) -> Any:
        ws = await websocket(*args, **kw)
        current["upgraded"] = now()
        return ws

    upgrade.websocket = traced_websocket

    send = channels.WsExecIO._send

    async def traced_send(self: Any, channel: int, data: bytes) -> None:
        await send(self, channel, data)
        if channel == channels.ERROR:
            current["status"] = now()

    channels.WsExecIO._send = traced_send  # type: ignore[method-assign]

    def stamp(owner: Any, name: str, before: str | None, after: str) -> None:
        wrapped = getattr(owner, name)

        def traced(*args: Any, **kw: Any) -> Any:
            if before is not None:
                current[before] = now()
            try:
                return wrapped(*args, **kw)
            finally:
                current[after] = now()

        setattr(owner, name, traced)

    stamp(Runtime, "exec_command", "command in", "command out")
    stamp(Sandbox, "spawn", "spawn in", "spawn out")

    if os.environ.get("PODNET_STREAMS_TRACE_ALTERNATE"):
        # before/after of the sealed crun copy in one process, execs interleaved: every
        # other exec runs crun from its file, as before that change
        from podnet.dataplane import execs

        sealed_program = execs.sealed_program
        calls = [0]

        def alternate(path: str) -> int | None:
            calls[0] += 1
            current["sealed"] = float(calls[0] % 2)
            return sealed_program(path) if calls[0] % 2 else None

        execs.sealed_program = alternate

    reap = kubelet_streams.PodProcess._reap

    def traced_reap(self: Any) -> None:
        current["exited"] = now()
        reap(self)

    kubelet_streams.PodProcess._reap = traced_reap  # type: ignore[method-assign]


if os.environ.get("PODNET_STREAMS_TRACE"):
    _install(os.environ["PODNET_STREAMS_TRACE"])
