"""``kubectl port-forward`` through a real pod of ``podnet up``: 100 concurrent
connections of 10 MiB each to a server in a python-image pod, every one checked for its
length and sha256, with kubectl 1.20 (SPDY) and 1.37 (SPDY tunnelled in WebSocket); the
kubelet's side dials from inside the pod's network namespace
(podnet/live/kubelet_streams.py), so this is the whole path, not an in-test pod side.
Afterwards no connection to the server is left open in the pod."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, podnet_up
from support.live import require_live

from podnet.live.registry import describe_cluster

pytestmark = pytest.mark.kernel

PORT = 9000
SIZE = 10 * 1024 * 1024
COUNT = 100
SEED = 7
# Each connection sends a 4-byte index; the reply is the index, then the blob rotated by
# index * 4099 bytes, so a byte of one connection showing up in another fails its hash.
SERVER = f"""\
import random, socket, threading
size = {SIZE}
blob = memoryview(random.Random({SEED}).randbytes(size))
srv = socket.create_server(("", {PORT}), backlog=512)
def serve(c):
    with c:
        head = b""
        while len(head) < 4:
            chunk = c.recv(4 - len(head))
            if not chunk:
                return
            head += chunk
        off = int.from_bytes(head, "big") * 4099 % size
        c.sendall(head)
        c.sendall(blob[off:])
        c.sendall(blob[:off])
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
"""
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "blobs"},
    "spec": {
        "containers": [{"name": "srv", "image": "python", "command": ["python3", "-c", SERVER]}]
    },
}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up-pf")) as cluster:
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok("apply", "-f", "-", stdin=json.dumps(POD))
        k.ok("wait", "--for=condition=Ready", "pod/blobs", "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


class Forward:
    """``kubectl port-forward pod/blobs :PORT`` running; ``port`` is the local one."""

    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
        self.proc = subprocess.Popen(
            [str(binary), "port-forward", "pod/blobs", f":{PORT}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 20
        while not self.port and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.port, self.stop()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("Forwarding from 127.0.0.1:") and not self.port:
                self.port = int(line.split(":")[1].split()[0])

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return err


def _expected() -> list[str]:
    blob = memoryview(random.Random(SEED).randbytes(SIZE))
    out = []
    for i in range(COUNT):
        off = i * 4099 % SIZE
        h = hashlib.sha256(blob[off:])
        h.update(blob[:off])
        out.append(h.hexdigest())
    return out


def _fetch(port: int, index: int) -> tuple[int, str]:
    """(bytes after the index echo, their sha256) of one connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(index.to_bytes(4, "big"))
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            assert chunk, f"connection {index} closed before its index"
            head += chunk
        assert int.from_bytes(head, "big") == index
        h = hashlib.sha256()
        got = 0
        buf = bytearray(1 << 18)
        while n := sock.recv_into(buf):
            h.update(memoryview(buf)[:n])
            got += n
    return got, h.hexdigest()


def _established(pid: int) -> int:
    """TCP connections to PORT in ESTABLISHED state in the netns of ``pid``."""
    count = 0
    for name in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(f":{PORT:04X}") and fields[3] == "01":
                    count += 1
    return count


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_port_forward_100_connections_of_10mib_through_a_pod(version: str, up: UpCluster) -> None:
    expected = _expected()
    sandbox = int(describe_cluster(up.proc.pid)["pods"]["default/blobs"])
    forward = Forward(up.kubectl(version).binary, up.kubeconfig)
    try:
        started = time.monotonic()
        pool = concurrent.futures.ThreadPoolExecutor(COUNT)
        try:
            futures = [pool.submit(_fetch, forward.port, i) for i in range(COUNT)]
            _, not_done = concurrent.futures.wait(futures, timeout=180)
        finally:  # a stuck connection fails the test, not the runner (recv times out)
            pool.shutdown(wait=False, cancel_futures=True)
        assert not not_done, f"{len(not_done)} of {COUNT} connections not done in 180 s"
        took = time.monotonic() - started
        got = [f.result() for f in futures]
        assert [n for n, _ in got] == [SIZE] * COUNT
        bad = [i for i, (_, sha) in enumerate(got) if sha != expected[i]]
        assert not bad, f"sha256 differs on connections {bad}"
        assert forward.proc.poll() is None, "kubectl port-forward ended"
        # every pod-side connection is closed once its transfer ended, kubectl still up
        deadline = time.monotonic() + 10
        while _established(sandbox) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _established(sandbox) == 0, "connections to the server left open in the pod"
    finally:
        err = forward.stop()
    assert took < 180, err
