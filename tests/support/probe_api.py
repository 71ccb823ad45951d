"""A recorded Kubernetes API that also takes writes and execs, for the ``probe
--cluster`` unit tests: GETs answered from a table (the recorded k3s cluster of
support.recorded_api), POST/PATCH/DELETE remembered and answered as kube-apiserver
does, and ``pods/exec`` over WebSocket (v5.channel.k8s.io) replaying frames recorded
from ``podnet up`` (fixtures/probe-exec-frames.json). Served by aiohttp on loopback in
a thread of its own; the test decides what each ``agnhost connect`` answers.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from support.recorded_api import fixture

FRAMES: dict[str, list[list[Any]]] = {
    k: v for k, v in fixture("probe-exec-frames.json").items() if not k.startswith("_")
}
NOT_SERVED = fixture("probe-ephemeral-notserved.json")
# (namespace, pod, container, argv) -> the name of a recorded frame list
Answer = Callable[[str, str, str, list[str]], str]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class ProbeApi:
    url: str = ""
    gets: dict[str, Any] = field(default_factory=dict)  # path -> body
    writes: list[tuple[str, str, Any]] = field(default_factory=list)  # method, path, body
    execs: list[tuple[str, str, str, list[str]]] = field(default_factory=list)
    answer: Answer = lambda ns, pod, c, argv: "success"
    serve_ephemeral: bool = True
    ephemeral_state: str = "running"  # what status says of an added ephemeral container
    forbid_exec: bool = False
    delay: float = 0.0  # seconds each exec takes
    in_flight: int = 0
    most_in_flight: int = 0
    exec_headers: list[dict[str, str]] = field(default_factory=list)
    sticky: set[str] = field(default_factory=set)  # paths a DELETE leaves (a finalizer)

    def methods(self, method: str) -> list[tuple[str, Any]]:
        return [(p, b) for m, p, b in self.writes if m == method]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.endswith("/exec"):
            return await self._exec(request)
        if request.method == "GET":
            if path in self.gets:
                return web.json_response(self.gets[path])
            return web.json_response(_status(404, "NotFound", "not found"), status=404)
        body = await request.json() if request.can_read_body else None
        self.writes.append((request.method, path, body))
        if request.method == "PATCH" and path.endswith("/ephemeralcontainers"):
            if not self.serve_ephemeral:
                return web.json_response(NOT_SERVED, status=404)
            return web.json_response(self._add_ephemeral(path, body))
        if request.method == "DELETE":
            if path in self.gets:
                if path not in self.sticky:
                    del self.gets[path]
                return web.json_response({"kind": "Status", "status": "Success"})
            return web.json_response(_status(404, "NotFound", f"{path} not found"), status=404)
        return web.json_response(body, status=201)

    def _add_ephemeral(self, path: str, patch: Any) -> Any:
        """As kube-apiserver: the container appended to spec.ephemeralContainers; the
        kubelet then reports it in status (here at once, in ``ephemeral_state``)."""
        pod_path = path.rsplit("/", 1)[0]
        pod = self.gets[pod_path]
        added = patch["spec"]["ephemeralContainers"]
        pod["spec"].setdefault("ephemeralContainers", []).extend(added)
        state: dict[str, Any] = {"running": {"startedAt": "2026-12-03T10:00:00Z"}}
        if self.ephemeral_state == "terminated":
            state = {"terminated": {"reason": "ErrImagePull", "exitCode": 1}}
        pod["status"].setdefault("ephemeralContainerStatuses", []).extend(
            {"name": c["name"], "state": state, "image": c["image"]} for c in added
        )
        return pod

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")  # /api/v1/namespaces/NS/pods/POD/exec
        ns, pod = parts[4], parts[6]
        container = request.query.get("container", "")
        argv = request.query.getall("command", [])
        if self.forbid_exec:
            return web.json_response(_status(403, "Forbidden", "pods/exec forbidden"), status=403)
        if f"/api/v1/namespaces/{ns}/pods/{pod}" not in self.gets:
            return web.json_response(_status(404, "NotFound", f"pods {pod} not found"), status=404)
        self.execs.append((ns, pod, container, list(argv)))
        self.exec_headers.append(dict(request.headers))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
            await ws.prepare(request)
            await asyncio.sleep(self.delay)
            for channel, text in FRAMES[self.answer(ns, pod, container, list(argv))]:
                await ws.send_bytes(bytes([channel]) + text.encode())
            await ws.close()
        finally:
            self.in_flight -= 1
        return ws


@pytest.fixture
def probe_api() -> Iterator[ProbeApi]:
    fake = ProbeApi()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", fake.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        runner_box.append(runner)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def k3s_gets(api: ProbeApi) -> None:
    """The recorded k3s cluster (support.recorded_api.k3s), in one page per list."""
    api.gets["/api/v1/namespaces"] = fixture("namespaces.json")
    pods = fixture("pods-page1.json")
    pods["items"] += fixture("pods-page2.json")["items"]
    pods["metadata"].pop("continue", None)
    api.gets["/api/v1/pods"] = pods
    api.gets["/api/v1/services"] = fixture("services.json")
    api.gets["/apis/discovery.k8s.io/v1/endpointslices"] = fixture("endpointslices.json")
    api.gets["/apis/networking.k8s.io/v1/networkpolicies"] = fixture("networkpolicies.json")
    api.gets["/api/v1/nodes"] = fixture("nodes.json")
    for path, body in list(api.gets.items()):
        if path.endswith("/namespaces") or path.endswith("/nodes"):
            continue
        base, plural = path.rsplit("/", 1)
        for ns in ("shop", "kube-system"):
            items = [i for i in body["items"] if i["metadata"].get("namespace") == ns]
            api.gets[f"{base}/namespaces/{ns}/{plural}"] = {**body, "items": items}
    for ns in fixture("namespaces.json")["items"]:
        api.gets[f"/api/v1/namespaces/{ns['metadata']['name']}"] = {
            "kind": "Namespace",
            "apiVersion": "v1",
            **ns,
        }
    for p in pods["items"]:
        meta = p["metadata"]
        api.gets[f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"] = json.loads(
            json.dumps({"kind": "Pod", "apiVersion": "v1", **p})
        )
