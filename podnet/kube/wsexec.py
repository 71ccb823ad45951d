"""Run a command in a container through the API's ``pods/exec`` subresource over a
WebSocket, as kubectl 1.30+ does (``v5.channel.k8s.io``, falling back to ``v4``).

Wire format (kubernetes ``staging/src/k8s.io/apimachinery/pkg/util/remotecommand``
``constants.go`` and the kubelet's ``wsstream/conn.go``): every binary message starts
with its channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; v5 adds
``[255, channel]`` for "this side closed that channel". The error channel carries one
JSON ``metav1.Status``: ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and
the code in ``details.causes[reason=ExitCode].message`` (kubectl's
``pkg/cmd/exec``, client-go ``remotecommand/v4.go`` ``errorDecoderV4``).

aiohttp is the HTTP library ``podnet up`` already serves with; the synchronous
:class:`~podnet.kube.client.Client` lends its server URL, TLS context and credentials.
:class:`Execer` sends no stdin (``stdin=false``): the probe commands read none.
:func:`interactive` is ``kubectl exec [-i] [-t]`` (``podnet exec``): the caller's stdin
on channel 0 (its end as v5's close of channel 0), stdout and stderr to the caller's
fds, the terminal's size on channel 4 (``{"Width", "Height"}``, client-go
``remotecommand`` ``resize.go``) at the start and on every :meth:`Session.resize`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import ssl
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from podnet.kube.errors import ApiStatusError, Forbidden, KubeError, NotFound, Unreachable

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


@dataclass(frozen=True)
class ExecResult:
    code: int  # the command's exit code; -1: no status came (stream cut)
    stdout: str
    stderr: str
    message: str  # the Status message on failure ("" on success)


def exec_path(
    namespace: str,
    pod: str,
    container: str | None,
    argv: Sequence[str],
    *,
    stdin: bool = False,
    tty: bool = False,
) -> str:
    """The exec subresource's path and query (``PodExecOptions``, as kubectl sends it:
    with a tty no stderr, kubelet merges it into the terminal)."""
    query = [("container", container)] if container else []
    if stdin:
        query.append(("stdin", "true"))
    query.append(("stdout", "true"))
    query.append(("tty", "true") if tty else ("stderr", "true"))
    query += [("command", a) for a in argv]
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/exec?" + urllib.parse.urlencode(query)


def ws_url(http_url: str) -> str:
    return "wss" + http_url[5:] if http_url.startswith("https") else "ws" + http_url[4:]


def exit_code(status: dict[str, Any]) -> tuple[int, str]:
    """The exit code a v4/v5 error-channel Status stands for, and its message."""
    if status.get("status") == "Success":
        return 0, ""
    message = str(status.get("message") or "")
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message")), message
                except (TypeError, ValueError):
                    break
    return -1, message or "exec failed"


class Execer:
    """One aiohttp session for many concurrent execs against one server; ``async with``."""

    def __init__(
        self,
        base: str,
        ctx: ssl.SSLContext | None,
        headers: dict[str, str],
        *,
        server_name: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base, self.ctx, self.headers = base, ctx, headers
        self.server_name, self.timeout = server_name, timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Execer:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(
        self, namespace: str, pod: str, container: str, argv: Sequence[str]
    ) -> ExecResult:
        """Run ``argv`` and wait for it; an API refusal (403, 404...) is a
        :class:`KubeError`, the command's own failure an exit code."""
        assert self._session is not None, "use Execer as an async context manager"
        url = self.base + exec_path(namespace, pod, container, argv)
        url = ws_url(url)
        where = f"pods/exec {namespace}/{pod}"
        try:
            async with asyncio.timeout(self.timeout):
                ws = await self._session.ws_connect(
                    url,
                    protocols=PROTOCOLS,
                    headers=self.headers,
                    ssl=self.ctx if self.ctx is not None else True,
                    server_hostname=self.server_name,
                    max_msg_size=0,
                )
                async with ws:
                    return await _collect(ws)
        except aiohttp.WSServerHandshakeError as e:
            raise _refused(e.status, where, namespace, e.message) from e
        except TimeoutError as e:
            raise Unreachable(f"{where}: no answer within {self.timeout:g} s") from e
        except aiohttp.ClientError as e:
            raise Unreachable(f"{where}: {e}") from e


async def _collect(ws: aiohttp.ClientWebSocketResponse) -> ExecResult:
    out, err = bytearray(), bytearray()
    status: dict[str, Any] | None = None
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
            continue
        data: bytes = msg.data
        channel, payload = data[0], data[1:]
        if channel == STDOUT:
            out += payload
        elif channel == STDERR:
            err += payload
        elif channel == ERROR and payload:
            try:
                status = json.loads(payload)
            except ValueError:
                status = {"status": "Failure", "message": payload.decode(errors="replace")}
    if status is None:
        code, message = -1, "the exec stream ended without a status"
    else:
        code, message = exit_code(status)
    return ExecResult(code, out.decode(errors="replace"), err.decode(errors="replace"), message)


class Session:
    """One interactive exec (:func:`interactive`): :meth:`resize` from a SIGWINCH handler."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, size: Callable[[], Size]) -> None:
        self._ws, self._size = ws, size

    def resize(self) -> None:
        """Send the terminal's size now (a task: called from a signal handler)."""
        size = self._size()
        if size is None or self._ws.closed:
            return
        body = json.dumps({"Width": size[0], "Height": size[1]}).encode()
        asyncio.get_running_loop().create_task(self._send(bytes([RESIZE]) + body))

    async def _send(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._ws.send_bytes(data)


Size = tuple[int, int] | None  # (width, height) of the caller's terminal


async def interactive(
    session: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    ctx: ssl.SSLContext | None,
    server_name: str | None,
    stdin: int | None,
    stdout: int,
    stderr: int,
    size: Callable[[], Size] | None = None,
    started: Callable[[Session], None] | None = None,
    where: str = "pods/exec",
) -> tuple[int, str]:
    """Run one exec at ``url`` (http(s), the exec path included) with the caller's fds:
    ``stdin`` (None: none sent) is read when readable, never made non-blocking (a
    terminal's flags are shared with stdout); output written as it comes. Returns the
    exit code and the Status message (-1 when no status came); an API refusal is a
    :class:`KubeError`. ``size``: the terminal's size, sent at once and on resize;
    ``started`` gets the :class:`Session` (for a SIGWINCH handler)."""
    namespace = urllib.parse.urlsplit(url).path.split("/")[4]
    try:
        ws = await session.ws_connect(
            ws_url(url),
            protocols=PROTOCOLS,
            headers=headers,
            ssl=ctx if ctx is not None else True,  # True: default checks (ignored by ws://)
            server_hostname=server_name,
            max_msg_size=0,
        )
    except aiohttp.WSServerHandshakeError as e:
        raise _refused(e.status, where, namespace, e.message) from e
    except aiohttp.ClientError as e:
        raise Unreachable(f"{where}: {e}") from e
    async with ws:
        sess = Session(ws, size or (lambda: None))
        if size is not None:
            sess.resize()
        if started is not None:
            started(sess)
        pump = None if stdin is None else asyncio.create_task(_pump(ws, stdin))
        try:
            status = await _relay(ws, stdout, stderr)
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
    if status is None:
        return -1, "the exec stream ended without a status"
    return exit_code(status)


async def _pump(ws: aiohttp.ClientWebSocketResponse, fd: int) -> None:
    """The caller's input to channel 0 until its end; then v5's close of channel 0
    (v4 has no way to say it: the process keeps its stdin, as with kubectl)."""
    loop = asyncio.get_running_loop()
    while True:
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _resolve, readable)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        try:
            data = os.read(fd, 32 * 1024)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            if ws.protocol == PROTOCOLS[0]:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_bytes(bytes([CLOSE, STDIN]))
            return
        try:
            await ws.send_bytes(bytes([STDIN]) + data)
        except (ConnectionError, RuntimeError):
            return


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _relay(ws: aiohttp.ClientWebSocketResponse, stdout: int, stderr: int) -> Any:
    status: Any = None
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
            continue
        data: bytes = msg.data
        channel, payload = data[0], data[1:]
        if channel in (STDOUT, STDERR) and payload:
            _write_all(stdout if channel == STDOUT else stderr, payload)
        elif channel == ERROR and payload:
            try:
                status = json.loads(payload)
            except ValueError:
                status = {"status": "Failure", "message": payload.decode(errors="replace")}
    return status


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:  # poll, not select: fd numbers may pass FD_SETSIZE
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            poller.poll()
        except OSError:  # the reader went away (a closed pipe): drop the rest
            return


def _refused(status: int, where: str, namespace: str, said: str) -> KubeError:
    if status == 403:
        return Forbidden(
            f"cannot create {where}: needs create on pods/exec in namespace {namespace} ({said})",
            verb="create",
            resource="pods/exec",
            namespace=namespace,
        )
    if status == 404:
        return NotFound(f"{where}: not found ({said})")
    return ApiStatusError(f"{where}: HTTP {status}: {said}", status)
