"""``kubectl attach -i`` to containers that asked for stdin, against ``podnet up`` with
kubectl 1.20 (SPDY) and 1.37 (WebSocket): the runtime keeps a stdin pipe for a
``stdin: true`` container; with ``stdinOnce`` the first attach's end of input is the
process's EOF, without it stdin stays open across attach sessions (the Container spec's
stdin/stdinOnce; kubelet GetAttach refuses ``-i`` to a container without stdin)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

READER = "while read l; do echo got-$l; done; echo eof"


def _pod(name: str, *, once: bool, restart: str) -> dict[str, object]:
    container: dict[str, object] = {
        "name": "c",
        "image": "busybox",
        "command": ["sh", "-c", READER],
        "stdin": True,
    }
    if once:
        container["stdinOnce"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": [container]},
    }


def _once(version: str) -> str:
    return f"once-{version.replace('.', '-')}"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up-attach")) as cluster:
        pods = [_pod(_once(v), once=True, restart="Never") for v in KUBECTL_VERSIONS]
        pods.append(_pod("keep", once=False, restart="Always"))
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "plain"},
                "spec": {
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]
                },
            }
        )
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok(
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}),
        )
        names = [f"pod/{p['metadata']['name']}" for p in pods]  # type: ignore[index]
        k.ok("wait", "--for=condition=Ready", *names, "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_attach_stdin_once_input_then_eof(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    got = k("attach", "-i", _once(version), stdin="one\ntwo\n", timeout=30)
    # the end of kubectl's input closes the container's stdin: the loop ends, the
    # container exits 0 and the attach with it
    assert (got.rc, got.out) == (0, "got-one\ngot-two\neof\n"), got
    assert k.ok("logs", _once(version)) == "got-one\ngot-two\neof\n"


def _attach_until(k_binary: str, env: dict[str, str], line: str, want: str) -> None:
    """``kubectl attach -i keep``, send ``line``, read until ``want``; then kill kubectl
    (stdin stays open: the attach would not end by itself)."""
    proc = subprocess.Popen(
        [k_binary, "attach", "-i", "keep"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    out = b""
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line.encode())
        proc.stdin.flush()
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + 20
        while want.encode() not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert want.encode() in out, (out, err)


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_attach_stdin_stays_open_across_sessions(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(up.kubeconfig.parent)}
    _attach_until(str(k.binary), env, f"first-{version}\n", f"got-first-{version}\n")
    _attach_until(str(k.binary), env, f"second-{version}\n", f"got-second-{version}\n")
    logs = k.ok("logs", "keep")
    assert f"got-first-{version}\ngot-second-{version}\n" in logs, logs
    assert "eof" not in logs, logs  # no session's end reached the process
    pod = k.json("get", "pod", "keep")
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_attach_stdin_refused_without_stdin(version: str, up: UpCluster) -> None:
    got = up.kubectl(version)("attach", "-i", "plain", stdin="x\n", timeout=30)
    assert got.rc != 0, got
    assert "container c in pod plain was not started with stdin: true" in got.err, got
