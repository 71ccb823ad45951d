"""pods/log over the pod streams the live cluster supplies: parameters passed through,
text/plain, streamed while following, the stream closed when the client goes away."""

from __future__ import annotations

import asyncio
import http.client
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from podnet.apiserver import auth, certs, errors, resources
from podnet.apiserver.certs import ServerTLS
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.http.podstreams import PodStreams
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore

PODS = resources.by_path("", "v1", "pods")
POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
}


@dataclass
class Streams:
    """Serves fixed lines; records each call and whether its stream was closed."""

    lines: list[bytes]
    calls: list[dict[str, Any]] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)

    async def logs(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        follow: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        timestamps: bool,
        previous: bool,
        since_time: float | None = None,
        limit_bytes: int | None = None,
    ) -> AsyncIterator[bytes]:
        self.calls.append(
            {
                "namespace": namespace,
                "name": name,
                "container": container,
                "follow": follow,
                "tail_lines": tail_lines,
                "since_seconds": since_seconds,
                "timestamps": timestamps,
                "previous": previous,
            }
        )
        if container not in (None, "c"):
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        index = len(self.closed)
        self.closed.append(False)
        try:
            for line in self.lines:
                yield line
            while follow:
                await asyncio.sleep(0.05)
                yield b""
        finally:
            self.closed[index] = True


@dataclass
class Api:
    port: int
    tls: ServerTLS
    server: ServerThread

    def get(self, path: str) -> tuple[int, str, bytes]:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.tls.client_context(), timeout=10
        )
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type") or "", resp.read()
        finally:
            conn.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    assert PODS is not None
    tls = certs.ensure(tmp_path)
    store = MemoryStore()
    registry = Registry(store)
    registry.create(resources.RESOURCES[0], None, {"metadata": {"name": "default"}})
    registry.create(PODS, "default", POD)
    server = ServerThread(
        registry, tls=tls, authenticator=auth.Authenticator(auth.ensure_token(tmp_path))
    )
    port = server.start()
    try:
        yield Api(port, tls, server)
    finally:
        server.stop()
        store.close()


def _set_streams(api: Api, streams: Streams) -> None:
    assert api.server.server is not None
    api.server.server.pod_streams = cast(PodStreams, streams)  # logs only: all these use


def test_without_pod_streams_logs_are_not_found(api: Api) -> None:
    code, _, _ = api.get("/api/v1/namespaces/default/pods/web/log")
    assert code == 404


def test_logs_pass_their_parameters_and_answer_text(api: Api) -> None:
    streams = Streams([b"one\n", b"two\n"])
    _set_streams(api, streams)
    path = "/api/v1/namespaces/default/pods/web/log"
    query = "?container=c&tailLines=5&sinceSeconds=10&timestamps=true&previous=1"
    code, ctype, body = api.get(path + query)
    assert (code, body) == (200, b"one\ntwo\n")
    assert ctype.startswith("text/plain")
    assert streams.calls == [
        {
            "namespace": "default",
            "name": "web",
            "container": "c",
            "follow": False,
            "tail_lines": 5,
            "since_seconds": 10,
            "timestamps": True,
            "previous": True,
        }
    ]
    assert streams.closed == [True]


def test_log_errors_are_statuses(api: Api) -> None:
    _set_streams(api, Streams([b"x\n"]))
    base = "/api/v1/namespaces/default/pods"
    assert api.get(f"{base}/nope/log")[0] == 404
    # ValidatePodLogOptions' 422 (pkg/registry/core/pod/rest/log.go), not a 400
    assert api.get(f"{base}/web/log?tailLines=-1")[0] == 422
    assert api.get(f"{base}/web/log?sinceSeconds=0")[0] == 422
    code, _, body = api.get(f"{base}/web/log?container=other")
    assert code == 400 and b"container other is not valid" in body


def test_follow_streams_and_closes_when_the_client_goes(api: Api) -> None:
    streams = Streams([b"first\n"])
    _set_streams(api, streams)
    conn = http.client.HTTPSConnection(
        "127.0.0.1", api.port, context=api.tls.client_context(), timeout=10
    )
    conn.request("GET", "/api/v1/namespaces/default/pods/web/log?follow=true")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline() == b"first\n"
    conn.close()
    resp.close()
    deadline = time.monotonic() + 5
    while not streams.closed[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert streams.closed == [True]
