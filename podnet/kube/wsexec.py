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
No stdin is sent (``stdin=false``): the probe commands read none.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from podnet.kube.errors import ApiStatusError, Forbidden, KubeError, NotFound, Unreachable

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, ERROR, CLOSE = 1, 2, 3, 255


@dataclass(frozen=True)
class ExecResult:
    code: int  # the command's exit code; -1: no status came (stream cut)
    stdout: str
    stderr: str
    message: str  # the Status message on failure ("" on success)


def exec_path(namespace: str, pod: str, container: str, argv: Sequence[str]) -> str:
    query = [("container", container), ("stdout", "true"), ("stderr", "true")]
    query += [("command", a) for a in argv]
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/exec?" + urllib.parse.urlencode(query)


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
        url = "wss" + url[5:] if url.startswith("https") else "ws" + url[4:]
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
