"""``pods/exec`` and ``pods/attach``: check the request, start the process, upgrade,
then move bytes until the process exits or the client leaves.

Request checks as kube-apiserver makes them before any upgrade (Status errors):
a command is required for exec, at least one of stdin/stdout/stderr
(kubelet ``remotecommand.NewOptions``), ``tty`` drops stderr. The exit travels as
kubelet's ``ServeExec`` writes it: Success, or Failure ``NonZeroExitCode`` with the
code in ``details.causes[{reason: ExitCode}]`` (client-go's ``errorDecoderV4`` turns
that into kubectl's exit status). If the client goes away first the process is
killed; every task started here ends before :func:`run` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from podnet.apiserver import errors
from podnet.apiserver.http.podstreams import ExecSession
from podnet.apiserver.http.streams import channels, upgrade
from podnet.apiserver.http.streams.channels import STDERR, STDOUT, ExecIO

OUTPUT_GRACE = 2.0  # after exit, how long stdout/stderr may stay open (a child holding the pipe)


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true")


def options(query: Any, *, attach: bool) -> tuple[dict[str, bool], list[str]]:
    """The stream flags and command from the query (``PodExecOptions``)."""
    opts = {k: _flag(query, k) for k in ("stdin", "stdout", "stderr", "tty")}
    if opts["tty"]:
        opts["stderr"] = False  # kubelet: "exec with tty and stderr is not supported"
    command = [] if attach else list(query.getall("command", []))
    if not attach and not command:
        raise errors.bad_request("you must specify at least one command for the container")
    if not (opts["stdin"] or opts["stdout"] or opts["stderr"]):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return opts, command


def exit_status(code: int, command: Sequence[str]) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"{list(command)}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


async def serve(
    request: web.Request,
    start: Callable[[dict[str, bool]], Awaitable[ExecSession]],
    *,
    attach: bool,
) -> web.StreamResponse:
    """Start the session (errors are Statuses), upgrade, run it to the end."""
    opts, command = options(request.query, attach=attach)
    session = await start(opts)
    io: channels.WsExecIO | channels.SpdyExecIO
    resp: web.StreamResponse
    try:
        if upgrade.is_websocket(request):
            ws = await upgrade.websocket(request, channels.WS_PROTOCOLS)
            io, resp = channels.WsExecIO(ws, opts), ws
        else:
            conn, protocol, resp = await upgrade.spdy(request, channels.SPDY_PROTOCOLS)
            io = channels.SpdyExecIO(conn, protocol, opts)
        if await io.open():
            await run(session, io, command)
        else:
            await io.close()
    finally:
        await session.kill()
    return resp


async def run(session: ExecSession, io: ExecIO, command: Sequence[str] = ()) -> None:
    tasks: list[asyncio.Task[None]] = []
    try:
        if io.has[channels.STDIN]:
            tasks.append(asyncio.create_task(_stdin(session, io)))
        else:
            await session.close_stdin()
        outputs = [
            asyncio.create_task(_output(session.stdout(), io, STDOUT)),
            asyncio.create_task(_output(session.stderr(), io, STDERR)),
        ]
        tasks += outputs
        tasks.append(asyncio.create_task(_resize(session, io)))
        exited = asyncio.create_task(session.wait())
        gone = asyncio.create_task(io.gone.wait())
        try:
            await asyncio.wait({exited, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not exited.done():
                exited.cancel()
        if not exited.done() or exited.cancelled():
            await session.kill()  # the client left first
            return
        code = exited.result()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(OUTPUT_GRACE):
                await asyncio.wait(outputs)
        with contextlib.suppress(ConnectionError):  # the client left while we said goodbye
            await io.finish(exit_status(code, command))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _stdin(session: ExecSession, io: ExecIO) -> None:
    while data := await io.read_stdin():
        await session.write_stdin(data)
    await session.close_stdin()


async def _output(chunks: Any, io: ExecIO, channel: int) -> None:
    """Copy one output to the client; without a client channel it is read and dropped,
    so the process never blocks on a full pipe."""
    try:
        async for chunk in chunks:
            with contextlib.suppress(ConnectionError):
                await io.write(channel, chunk)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def _resize(session: ExecSession, io: ExecIO) -> None:
    async for width, height in io.sizes():
        await session.resize(width, height)
