"""exec, attach and port-forward into the kubelet's pods (the PodStreams the API
server's stream protocols call), from an asyncio loop, on a real one-node cluster.

exec runs in the pod (its hostname, its Service variables, the busybox PATH), with
stdin piped, with a tty (isatty inside, a resize seen by ``stty size``), reports exit
codes as a shell does, and kill() leaves no process; errors are the API's Statuses;
port_forward reaches nginx inside the pod and is refused on a closed port; attach
follows the output. Afterwards nothing is left on the host.

The cluster runs in a child process (this file runs itself), as every live test does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.sandbox import HostState, run_json_child

pytestmark = pytest.mark.kernel


def test_exec_attach_and_port_forward_into_kubelet_pods() -> None:
    from support.live import require_live

    require_live()
    before = HostState.take()
    r = run_json_child([sys.executable, __file__], timeout=180)
    assert r["hostname"] == "box\n", r
    assert r["service_env"] == "10.96.0.1\n", r  # KUBERNETES_SERVICE_HOST, as the container
    assert r["path_has_applets"], r
    assert r["stdin_echo"] == "hello\nworld\n", r
    assert r["stderr"] == ["", "oops\n"], r
    assert r["exit3"] == 3 and r["signalled"] == 128 + 9, r
    assert r["tty_isatty"].endswith("yes\r\n"), r
    assert r["tty_size"] == "33 101", r
    assert r["tty_exit"] == 0, r
    assert r["killed_pid_alive_before"] and not r["killed_left"], r
    assert r["killed_group_left"] == [], r
    assert r["errors"] == {
        "no_pod": [404, "NotFound"],
        "bad_container": [400, "container nope is not valid for pod box"],
        "attach_stdin": [400, "BadRequest"],
    }, r
    assert "Welcome to nginx!" in r["forward_page"], r
    assert r["forward_closed"] == "ConnectionRefusedError", r
    assert r["attach_out"] == "tick\n" and not r["attach_thread_left"], r
    assert r["forward_concurrent"] == 20, r
    assert HostState.take() == before


# --- the child: the podnet process -------------------------------------------------


def _wait(cond: Callable[[], Any], timeout: float = 20) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    return cond()


def _pod(name: str, image: str, command: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = command
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": "node-0",
            "containers": [container],
            "terminationGracePeriodSeconds": 1,
        },
    }


async def _collect(it: Any, timeout: float = 10) -> str:
    async def run() -> bytes:
        return b"".join([c async for c in it])

    return (await asyncio.wait_for(run(), timeout)).decode(errors="replace")


async def _exec(
    streams: Any, command: list[str], stdin: bytes | None = None
) -> tuple[int, str, str]:
    s = await streams.exec(
        "default", "box", container=None, command=command, stdin=stdin is not None, tty=False
    )
    try:
        if stdin is not None:
            await s.write_stdin(stdin)
            await s.close_stdin()
        out, err = await asyncio.gather(_collect(s.stdout()), _collect(s.stderr()))
        code = await asyncio.wait_for(s.wait(), 10)
    finally:
        await s.kill()
    return code, out, err


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return False


def _group(pgid: int) -> list[int]:
    found: list[int] = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{d}/stat") as f:
                if int(f.read().split(") ")[-1].split()[2]) == pgid:
                    found.append(int(d))
    return found


async def _scenarios(streams: Any, r: dict[str, Any]) -> None:
    from podnet.apiserver.errors import ApiError

    _, r["hostname"], _ = await _exec(streams, ["hostname"])
    _, r["service_env"], _ = await _exec(streams, ["sh", "-c", "echo $KUBERNETES_SERVICE_HOST"])
    _, path, _ = await _exec(streams, ["sh", "-c", "echo $PATH"])
    r["path_has_applets"] = "busybox" in path
    _, r["stdin_echo"], _ = await _exec(streams, ["cat"], b"hello\nworld\n")
    _, out, err = await _exec(streams, ["sh", "-c", "echo oops >&2"])
    r["stderr"] = (out, err)
    r["exit3"], _, _ = await _exec(streams, ["sh", "-c", "exit 3"])
    r["signalled"], _, _ = await _exec(streams, ["sh", "-c", "kill -9 $$"])

    # a tty: the command's stdin is a terminal, a resize reaches it
    t = await streams.exec("default", "box", container=None, command=["sh"], stdin=True, tty=True)
    try:
        await t.resize(101, 33)
        await t.write_stdin(b"[ -t 0 ] && echo y''es; stty size; exit\n")
        r["tty_out"] = out = await _collect(t.stdout())
        r["tty_isatty"] = next((ln + "\r\n" for ln in out.split("\r\n") if ln == "yes"), out)
        r["tty_size"] = out.rsplit("\r\n", 2)[-2]
        r["tty_exit"] = await asyncio.wait_for(t.wait(), 10)
    finally:
        await t.kill()

    # kill on disconnect: the process and what it forked are gone
    k = await streams.exec(
        "default",
        "box",
        container=None,
        command=["sh", "-c", "sleep 300 & sleep 300"],
        stdin=True,
        tty=False,
    )
    pid = k.pid
    await asyncio.sleep(0.3)
    r["killed_pid_alive_before"] = _alive(pid)
    await k.kill()
    r["killed_left"] = _alive(pid)
    # the orphaned `sleep` was reparented to the cluster's init, which reaps it
    end = time.monotonic() + 3
    while _group(pid) and time.monotonic() < end:
        await asyncio.sleep(0.05)
    r["killed_group_left"] = _group(pid)

    errors: dict[str, Any] = {}
    try:
        await streams.exec(
            "default", "nope", container=None, command=["true"], stdin=False, tty=False
        )
    except ApiError as e:
        errors["no_pod"] = [e.code, e.reason]
    try:
        await streams.exec(
            "default", "box", container="nope", command=["true"], stdin=False, tty=False
        )
    except ApiError as e:
        errors["bad_container"] = [e.code, e.message]
    try:
        await streams.attach("default", "box", container=None, stdin=True, tty=False)
    except ApiError as e:
        errors["attach_stdin"] = [e.code, e.reason]
    r["errors"] = errors

    reader, writer = await streams.port_forward("default", "web", 80)
    try:
        writer.write(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        await writer.drain()
        r["forward_page"] = (await asyncio.wait_for(reader.read(), 10)).decode(errors="replace")
    finally:
        writer.close()
        await writer.wait_closed()

    async def fetch() -> bool:
        reader, writer = await streams.port_forward("default", "web", 80)
        try:
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            return b"Welcome to nginx!" in await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
            await writer.wait_closed()

    r["forward_concurrent"] = sum(await asyncio.gather(*(fetch() for _ in range(20))))
    try:
        await streams.port_forward("default", "web", 8081)
        r["forward_closed"] = "connected"
    except OSError as e:
        r["forward_closed"] = type(e).__name__

    a = await streams.attach("default", "ticker", container=None, stdin=False, tty=False)
    try:
        it = a.stdout()
        r["attach_out"] = (await asyncio.wait_for(it.__anext__(), 10)).decode()
    finally:
        await a.kill()
    end = time.monotonic() + 2  # the follow thread sees the kill within its poll
    while any(t.name == "attach-follow" for t in threading.enumerate()):
        if time.monotonic() > end:
            break
        await asyncio.sleep(0.05)
    r["attach_thread_left"] = any(t.name == "attach-follow" for t in threading.enumerate())


def _child() -> None:
    from podnet.apiserver.errors import ApiError
    from podnet.apiserver.registry import Registry
    from podnet.apiserver.resources import by_kind
    from podnet.apiserver.store.memory import MemoryStore
    from podnet.controllers.manager import ensure_system_priority_classes
    from podnet.live.cluster import LiveCluster
    from podnet.live.kubelet import Kubelet
    from podnet.live.kubelet_streams import PodStreamer
    from podnet.model.objects import Manifests

    pods, namespaces, svcs = by_kind("", "Pod"), by_kind("", "Namespace"), by_kind("", "Service")
    assert pods and namespaces and svcs
    reg = Registry(MemoryStore())
    reg.disabled_admission = frozenset({"ServiceAccount"})  # no token issuer here
    ensure_system_priority_classes(reg)  # as kube-apiserver's post-start hook
    for ns in ("default", "kube-system"):
        with contextlib.suppress(ApiError):
            reg.create(
                namespaces,
                None,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            )
    reg.create(
        svcs,
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443, "protocol": "TCP"}]},
        },
    )
    r: dict[str, Any] = {}
    cluster = LiveCluster(Manifests(), nodes=1, deny="reject")
    kubelet = None
    try:
        cluster.start()
        kubelet = Kubelet(reg, cluster)
        kubelet.start()
        reg.create(pods, "default", _pod("web", "nginx"))
        reg.create(pods, "default", _pod("box", "busybox", ["sleep", "1000"]))
        tick = ["sh", "-c", "sleep 1; while true; do echo tick; sleep 1; done"]
        reg.create(pods, "default", _pod("ticker", "busybox", tick))

        def running(name: str) -> bool:
            with contextlib.suppress(ApiError):
                st = reg.get(pods, "default", name).get("status") or {}
                return st.get("phase") == "Running" and bool(st.get("podIP"))
            return False

        if not _wait(lambda: all(running(n) for n in ("web", "box", "ticker")), 30):
            raise AssertionError("pods did not start")
        # nginx listens once its container is Ready (no probe: running); give it a moment
        time.sleep(0.5)
        asyncio.run(asyncio.wait_for(_scenarios(PodStreamer(kubelet), r), 90))
    finally:
        if kubelet is not None:
            kubelet.stop()
        cluster.close()
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    _child()
