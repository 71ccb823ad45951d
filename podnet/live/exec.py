"""``podnet exec`` into a ``podnet run`` (or, by ``--cluster PID``, a ``podnet up``): the
cluster serves the Kubernetes exec subresource itself, on a local socket.

One exec, whoever asks: ``kubectl exec`` against ``podnet up`` reaches
:func:`podnet.live.kubelet_streams.start_exec` through the API server's streams
(:mod:`podnet.apiserver.http.streams.exec`); ``podnet exec`` reaches the same function
through the same stream code, served here by :class:`ExecEndpoint` on an *abstract*
unix socket ``@podnet-exec/<uid>/<pid>/<kind>`` (no file to leak; the kernel drops the
name with the socket, as :mod:`podnet.live.registry` does), and speaks to it with the
same WebSocket client (:func:`podnet.kube.wsexec.interactive`) it uses against an API
server. The command runs as the container runtime's exec (``crun exec`` in the
container), with a pty as its controlling terminal for ``-t``, and its exit code comes
back in the error channel's Status, as kubectl reads it.

The endpoint answers peers of the same uid or root only (SO_PEERCRED, as the registry's
socket), and has no pod objects beyond what the runtime runs: a pod is one the runtime
has started, its default container the first (kubectl's default without the
``kubectl.kubernetes.io/default-container`` annotation).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

from aiohttp import web

from podnet.apiserver.errors import ApiError, bad_request, not_found
from podnet.apiserver.http.podstreams import ExecSession
from podnet.apiserver.http.streams import exec as exec_
from podnet.errors import ClusterError, PodRuntimeError
from podnet.live.registry import host_uid

if TYPE_CHECKING:  # the client side (endpoints, choose_endpoint) loads no cluster code
    from podnet.live.cluster import LiveCluster

PREFIX = "podnet-exec"
KINDS = ("run", "up")
POD_ROUTE = "/api/v1/namespaces/{namespace}/pods/{name}"
EXEC_ROUTE = POD_ROUTE + "/exec"


def endpoint_name(uid: int, pid: int, kind: str) -> str:
    return f"\0{PREFIX}/{uid}/{pid}/{kind}"


def endpoints(uid: int | None = None) -> dict[int, str]:
    """pid -> kind (``run``/``up``) of the clusters of ``uid`` (default: ours) serving
    exec in this network namespace, from ``/proc/net/unix``."""
    want = f"@{PREFIX}/{host_uid() if uid is None else uid}/"
    found: dict[int, str] = {}
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) >= 8 and fields[7].startswith(want):
                    pid, _, kind = fields[7][len(want) :].partition("/")
                    if pid.isdigit() and kind in KINDS:
                        found[int(pid)] = kind
    except OSError:
        return {}
    return found


def choose_endpoint(pid: int | None) -> tuple[int, str]:
    """``--cluster PID``'s endpoint, else the one ``podnet run``'s; ClusterError if
    PID serves none, or several ``podnet run`` do. ``(pid, socket name)``."""
    found = endpoints()
    if pid is not None:
        if pid not in found:
            running = sorted(found) or "none"
            raise ClusterError(f"no podnet run with pid {pid} (nor podnet up; running: {running})")
        return pid, endpoint_name(host_uid(), pid, found[pid])
    runs = sorted(p for p, kind in found.items() if kind == "run")
    if not runs:
        raise ClusterError("no podnet run is running")
    if len(runs) > 1:
        raise ClusterError(f"several podnet run are running ({runs}); choose one with --cluster")
    return runs[0], endpoint_name(host_uid(), runs[0], "run")


class ExecEndpoint:
    """The exec subresource of ``cluster``'s pods, served from a thread of its own."""

    def __init__(self, cluster: LiveCluster, kind: str) -> None:
        # here, not at the top: `podnet exec` imports this module for choose_endpoint,
        # and the kubelet's modules would double its start-up
        from podnet.live.kubelet_streams import start_exec

        assert kind in KINDS
        self.cluster = cluster
        self._start_exec = start_exec
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.bind(endpoint_name(host_uid(), os.getpid(), kind))
            self._sock.listen(16)
        except BaseException:
            self._sock.close()
            raise
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, name="podnet-exec", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get(POD_ROUTE, self._pod)
        app.router.add_get(EXEC_ROUTE, self._exec)
        app.router.add_post(EXEC_ROUTE, self._exec)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, self._sock)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

    async def _pod(self, request: web.Request) -> web.StreamResponse:
        """The pod as far as exec needs it (what kubectl reads before its exec: the
        containers, for the default; the phase): the runtime's pod, Running."""
        if not _same_user(request):
            return _forbidden()
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        runtime = self.cluster.runtime
        assert runtime is not None
        pod = runtime.pod(f"{namespace}/{name}")
        if pod is None:
            err = not_found("", "pods", name)
            return web.json_response(err.status(), status=err.code)
        doc = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "initContainers": [{"name": c.name} for c in pod.init_containers],
                "containers": [{"name": c.name} for c in pod.containers],
            },
            "status": {"phase": "Running"},
        }
        return web.json_response(doc)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        if not _same_user(request):
            return _forbidden()
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        container = request.query.get("container") or None
        try:
            key, cname = self._target(namespace, name, container)

            async def start(opts: dict[str, bool]) -> ExecSession:
                command = request.query.getall("command", [])
                try:
                    return await self._start_exec(
                        self.cluster, key, cname, command, stdin=opts["stdin"], tty=opts["tty"]
                    )
                except PodRuntimeError:
                    raise bad_request(f'container not found ("{cname}")') from None

            return await exec_.serve(request, start, attach=False)
        except ApiError as e:
            return web.json_response(e.status(), status=e.code)

    def _target(self, namespace: str, name: str, container: str | None) -> tuple[str, str]:
        """The pod key and container, with the API server's answers for bad ones."""
        runtime = self.cluster.runtime
        assert runtime is not None
        key = f"{namespace}/{name}"
        pod = runtime.pod(key)
        if pod is None:
            raise not_found("", "pods", name)
        names = [c.name for c in (*pod.init_containers, *pod.containers)]
        if container is None:
            return key, pod.containers[0].name
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        return key, container

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._sock.close()


def _forbidden() -> web.Response:
    refused = ApiError(403, "Forbidden", "not a process of this cluster's user")
    return web.json_response(refused.status(), status=403)


def _same_user(request: web.Request) -> bool:
    sock: Any = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None:
        return False
    with contextlib.suppress(OSError):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        _, uid, _ = struct.unpack("3i", creds)
        return bool(uid in (0, os.getuid()))
    return False
