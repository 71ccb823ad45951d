"""Shared helpers of the runtime tests: a runtime on the host spawner, polling."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podnet.dataplane.images.registry import default_registry
from podnet.dataplane.runtime.pods import Runtime
from podnet.dataplane.runtime.spawn import host_spawner
from podnet.model.objects import Container, Pod


class Events:
    def __init__(self) -> None:
        self.logs: list[tuple[str, str]] = []
        self.ready: list[tuple[str, bool]] = []


@contextmanager
def host_runtime(tmp: Path, *, nginx_port: int = 80) -> Iterator[tuple[Runtime, Events]]:
    ev = Events()
    rt = Runtime(
        default_registry(tmp / "images", nginx_port=nginx_port),
        host_spawner,
        tmp / "pods",
        on_log=lambda p, line: ev.logs.append((p, line)),
        on_ready=lambda k, r: ev.ready.append((k, r)),
        backoff_scale=0.01,
        grace=2.0,
    )
    try:
        yield rt, ev
    finally:
        rt.close()


def wait_until(rt: Runtime, pred: Callable[[], bool], timeout: float = 15.0) -> None:
    """Drive the runtime's loop until ``pred()`` holds (the runtime has no threads)."""
    if not rt.run_until(pred, timeout):
        raise AssertionError("condition not met within the timeout")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", port))
    return port


def pod(name: str, *containers: Container, policy: str = "Always", **kw: Any) -> Pod:
    return Pod("default", name, {}, tuple(containers), restart_policy=policy, **kw)


def http_get(port: int, path: str = "/") -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return bytes(r.read()).decode()
    except urllib.error.HTTPError as e:
        e.close()  # the error is the response: without this its socket stays open
        raise
