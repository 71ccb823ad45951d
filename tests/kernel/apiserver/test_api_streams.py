"""Real clients through the streaming subresources: kubectl 1.20 (SPDY exec and
port-forward), kubectl 1.37 (WebSocket exec, SPDY tunnelled in WebSocket for
port-forward) and the Python client (WebSocket), against a ServerThread whose pod
side is :class:`LocalStreams` (local processes, loopback connections).

Every subprocess is bounded in time; servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import pty
import select
import signal
import socket
import socketserver
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.stream import portforward, stream
from support.kube import KUBECTL_VERSIONS, Done, podnet_up
from support.live import require_live
from support.local_podstreams import LocalSession, LocalStreams
from support.paths import REPO

from podnet.apiserver import auth, certs, kubeconfig, resources
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore

TOOLS = REPO / ".tools" / "bin"
VERSIONS = ("1.20", "1.37")
PODS = resources.by_path("", "v1", "pods")
POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "busybox", "stdin": True}]},
}


@dataclass
class Cluster:
    port: int
    config: Path
    home: Path
    streams: LocalStreams

    def argv(self, version: str, *args: str) -> list[str]:
        binary = TOOLS / f"kubectl-{version}"
        if not os.access(binary, os.X_OK):
            pytest.skip(f"{binary} missing: ./dev.sh installs it (install_clients)")
        return [str(binary), "--cache-dir", str(self.home / f"cache-{version}"), *args]

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.config),
        }

    def kubectl(
        self, version: str, *args: str, stdin: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(version, *args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )

    def wait_idle(self) -> None:
        """Every process the pod side started has ended (killed or exited)."""
        deadline = time.monotonic() + 10
        while self.streams.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.streams.running()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    assert PODS is not None
    data = tmp_path / "data"
    tls = certs.ensure(data)
    token = auth.ensure_token(data)
    store = MemoryStore()
    registry = Registry(store)
    registry.create(resources.RESOURCES[0], None, {"metadata": {"name": "default"}})
    pod = registry.create(PODS, "default", POD)
    # kubectl port-forward and exec -it want a Running pod (and a ready one for svc/x)
    pod["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "image": "busybox",
                               "imageID": "", "state": {"running": {}}}],
    }  # fmt: skip
    registry.update(PODS, "default", "web", pod, subresource="status")
    streams = LocalStreams()
    server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
    port = server.start()
    assert server.server is not None
    server.server.pod_streams = streams
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config"
    kubeconfig.install("test", f"https://127.0.0.1:{port}", tls, token, config)
    try:
        yield Cluster(port, config, home, streams)
    finally:
        streams.close_on(server._loop)
        server.stop()
        store.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_output_and_exit_codes(version: str, cluster: Cluster) -> None:
    done = cluster.kubectl(version, "exec", "web", "--", "sh", "-c", "echo out; echo err >&2")
    assert (done.returncode, done.stdout, done.stderr) == (0, "out\n", "err\n")
    done = cluster.kubectl(version, "exec", "web", "--", "sh", "-c", "exit 3")
    assert done.returncode == 3, done.stderr
    assert "command terminated with exit code 3" in done.stderr
    cluster.wait_idle()


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_stdin_reaches_the_process_and_eof_ends_it(version: str, cluster: Cluster) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    done = cluster.kubectl(
        version, "exec", "-i", "web", "--", "sh", "-c", "cat; echo done", stdin=text
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == text + "done\n"
    cluster.wait_idle()


@pytest.mark.parametrize("version", VERSIONS)
def test_attach_with_stdin(version: str, cluster: Cluster) -> None:
    # LocalStreams attaches to a `cat`: stdin comes back, its end ends the session
    done = cluster.kubectl(version, "attach", "web", "-c", "c", "-i", stdin="attached\n")
    assert (done.returncode, done.stdout) == (0, "attached\n"), done.stderr
    cluster.wait_idle()


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_errors_before_the_upgrade(version: str, cluster: Cluster) -> None:
    done = cluster.kubectl(version, "exec", "nosuch", "--", "true")
    assert done.returncode == 1
    assert 'pods "nosuch" not found' in done.stderr
    done = cluster.kubectl(version, "exec", "web", "-c", "x", "--", "true")
    assert done.returncode == 1
    assert "container x is not valid for pod web" in done.stderr


def test_exec_killed_client_kills_the_process(cluster: Cluster) -> None:
    for version in VERSIONS:
        proc = subprocess.Popen(
            cluster.argv(version, "exec", "web", "--", "sleep", "300"),
            env=cluster.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not cluster.streams.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert cluster.streams.running(), f"{version}: the exec never started"
        finally:
            proc.kill()
            proc.wait(10)
        cluster.wait_idle()
        assert cluster.streams.sessions[-1].killed


def _in_pty(
    argv: list[str],
    env: dict[str, str],
    script: bytes,
    timeout: float = 20.0,
    then: tuple[int, int, bytes] | None = None,
) -> tuple[int, bytes]:
    """Run ``argv`` on a terminal of 100x30, type ``script``, return exit code and output;
    ``then`` = (width, height, more): resize the terminal (SIGWINCH) and type ``more``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    out = b""
    try:
        time.sleep(0.5)
        os.write(master, script)
        if then is not None:
            time.sleep(0.5)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", then[1], then[0], 0, 0))
            proc.send_signal(signal.SIGWINCH)  # Popen gave it no controlling terminal
            time.sleep(0.5)
            os.write(master, then[2])
        os.close(slave)
        slave = -1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(5), out
    finally:
        if slave >= 0:
            os.close(slave)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)


class _Terminal:
    """kubectl on a pty of 100x30 (no controlling terminal: SIGWINCH is sent by hand),
    the test typing on the master as a user does: only once the session is up."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.slave = slave
        self.proc = subprocess.Popen(
            argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        self.out = b""

    def read(self, until: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Collect output until ``until()`` holds."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                pytest.fail(f"not within {timeout}s: {what}; output: {self.out!r}")
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    self.out += os.read(self.master, 65536)

    def resize(self, width: int, height: int) -> None:
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 20.0) -> int:
        os.close(self.slave)
        self.slave = -1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
            elif self.proc.poll() is not None:
                break
        return self.proc.wait(5)

    def close(self) -> None:
        if self.slave >= 0:
            os.close(self.slave)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)


def _session_up(term: _Terminal, cluster: Cluster, before: int) -> LocalSession:
    """The exec session ``term``'s kubectl started, once its terminal size came: kubectl
    puts its terminal in raw mode, then streams, sending the size first (kubectl's
    term.TTY.Safe, MonitorSize). Keys typed earlier meet a terminal still in canonical
    mode (echoed there, and a Ctrl-D turned into a NUL), and the size and the first keys
    travel apart (separate SPDY streams), as on any cluster."""
    term.read(
        lambda: (
            len(cluster.streams.sessions) > before
            and bool(cluster.streams.sessions[before].resizes)
        ),
        "the session and its first terminal size",
    )
    session = cluster.streams.sessions[before]
    assert session.resizes[0] == (100, 30)
    return session


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_tty_prompt_size_and_exit(version: str, cluster: Cluster) -> None:
    argv = cluster.argv(version, "exec", "-it", "web", "--", "sh")
    term = _Terminal(argv, cluster.env())
    try:
        session = _session_up(term, cluster, len(cluster.streams.sessions))
        term.type(b"stty size; echo tty-$((6*7))\n")
        term.read(lambda: b"tty-42" in term.out, "tty-42")
        assert b"30 100" in term.out, term.out
        term.resize(120, 40)
        # kubectl's SIGWINCH handler is a goroutine started after the first size went:
        # poke it until the new size arrives (a signal before it is ignored)
        deadline = time.monotonic() + 20
        while (120, 40) not in session.resizes and time.monotonic() < deadline:
            term.proc.send_signal(signal.SIGWINCH)
            term.read(lambda: (120, 40) in session.resizes, "resize", timeout=0.3)
        term.type(b"stty size; exit 7\n")
        code = term.finish()
    finally:
        term.close()
    assert b"40 120" in term.out, term.out
    assert code == 7, term.out
    cluster.wait_idle()
    assert {(100, 30), (120, 40)} <= set(session.resizes)
    term = _Terminal(argv, cluster.env())
    try:
        _session_up(term, cluster, len(cluster.streams.sessions))
        term.type(b"echo before-eof-$((1+1))\n")
        term.read(lambda: b"before-eof-2" in term.out, "before-eof-2")
        term.type(b"\x04")  # Ctrl-D leaves
        code = term.finish()
    finally:
        term.close()
    assert code == 0, term.out
    cluster.wait_idle()


def _client(cluster: Cluster) -> Any:
    client: Any = kubernetes.config
    return client.new_client_from_config(config_file=str(cluster.config))


def _close(resp: Any) -> None:
    """websocket-client leaves the socket open when the server closed first."""
    resp.close()
    resp.sock.shutdown()


def test_python_client_exec(cluster: Cluster) -> None:
    api = _client(cluster)
    try:
        core = kubernetes.client.CoreV1Api(api)
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            "web",
            "default",
            command=["sh", "-c", "cat; echo err >&2; exit 5"],
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        resp.write_stdin("from python\n")
        resp.close_channel(0)  # v5: stdin EOF
        resp.run_forever(timeout=10)
        assert resp.read_stdout() == "from python\n"
        assert resp.read_stderr() == "err\n"
        assert resp.returncode == 5
        _close(resp)
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            "web",
            "default",
            command=["echo", "hello"],
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            _preload_content=False,
        )
        resp.run_forever(timeout=10)
        assert (resp.read_stdout(), resp.returncode) == ("hello\n", 0)
        _close(resp)
    finally:
        api.close()
    cluster.wait_idle()


class _Server(socketserver.ThreadingTCPServer):
    request_queue_size = 256  # 100 connections arrive at once
    daemon_threads = True


class ShaServer:
    """On 127.0.0.1: reads an 8-byte length and that many bytes, answers their
    sha256 (hex, newline) and closes; a thread per connection."""

    def __init__(self) -> None:
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                size = struct.unpack(">Q", _recv_exact(sock, 8))[0]
                digest = hashlib.sha256()
                left = size
                while left:
                    chunk = sock.recv(min(left, 1 << 20))
                    if not chunk:
                        return
                    digest.update(chunk)
                    left -= len(chunk)
                sock.sendall(digest.hexdigest().encode() + b"\n")
                outer.served += 1

        self.served = 0
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def _send_and_check(sock: socket.socket, size: int, seed: int) -> None:
    block = hashlib.sha256(str(seed).encode()).digest() * (65536 // 32)
    digest = hashlib.sha256()
    sock.sendall(struct.pack(">Q", size))
    left = size
    while left:
        piece = block[: min(left, len(block))]
        sock.sendall(piece)
        digest.update(piece)
        left -= len(piece)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    assert reply == digest.hexdigest().encode() + b"\n", f"connection {seed}: {reply!r}"


@pytest.fixture
def sha_server(cluster: Cluster) -> Iterator[ShaServer]:
    server = ShaServer()
    cluster.streams.ports[80] = server.port
    try:
        yield server
    finally:
        server.close()


class Forward:
    """``kubectl port-forward`` running; ``ports`` are the local ports it printed."""

    def __init__(self, argv: list[str], env: dict[str, str], target: str, *remote: int) -> None:
        args = [f":{p}" for p in remote]
        self.proc = subprocess.Popen(
            [*argv, "port-forward", target, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ports: list[int] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 20
        while len(self.ports) < len(remote) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.ports) == len(remote), self.stop()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("Forwarding from 127.0.0.1:"):
                self.ports.append(int(line.split(":")[1].split()[0]))

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return err


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=60)


@pytest.mark.parametrize("version", VERSIONS)
def test_port_forward_many_connections_nothing_lost(
    version: str, cluster: Cluster, sha_server: ShaServer
) -> None:
    forward = Forward(cluster.argv(version), cluster.env(), "pod/web", 80)
    try:
        count, size = 100, 10 * 1024 * 1024

        def one(seed: int) -> None:
            with _connect(forward.ports[0]) as sock:
                _send_and_check(sock, size, seed)

        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            list(pool.map(one, range(count)))
        assert sha_server.served == count
        assert forward.proc.poll() is None
        # a client killed mid-transfer: the pod-side connection is closed too
        sock = _connect(forward.ports[0])
        sock.sendall(struct.pack(">Q", size) + b"x" * 100000)
        deadline = time.monotonic() + 10
        while cluster.streams.open_connections() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cluster.streams.open_connections() == 1
    finally:
        forward.stop()
    sock.close()
    deadline = time.monotonic() + 10
    while cluster.streams.open_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster.streams.open_connections() == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_port_forward_to_a_closed_port_is_a_stream_error(
    version: str, cluster: Cluster, sha_server: ShaServer
) -> None:
    forward = Forward(cluster.argv(version), cluster.env(), "pod/web", 80, 81)
    try:
        with _connect(forward.ports[1]) as sock:
            sock.settimeout(10)
            assert sock.recv(10) == b""  # closed: nothing listens on 81
        deadline = time.monotonic() + 10
        while forward.proc.poll() is None and version != "1.20" and time.monotonic() < deadline:
            time.sleep(0.1)
        if version == "1.20":
            # 1.20 keeps the forward after a stream error: the other port still works
            with _connect(forward.ports[0]) as sock:
                _send_and_check(sock, 1000, 1)
    finally:
        err = forward.stop()
    assert "error forwarding port 81 to pod web, uid : failed to connect" in err, err


def test_python_client_port_forward(cluster: Cluster, sha_server: ShaServer) -> None:
    api = _client(cluster)
    try:
        core = kubernetes.client.CoreV1Api(api)
        pf = portforward(core.connect_get_namespaced_pod_portforward, "web", "default", ports="80")
        sock = pf.socket(80)
        sock.settimeout(20)
        _send_and_check(sock, 3 * 1024 * 1024, 7)
        sock.close()
        pf.close()
        deadline = time.monotonic() + 10
        while pf.connected and time.monotonic() < deadline:
            time.sleep(0.05)  # the server ends the WebSocket once the connection ended
        assert not pf.connected
        assert pf.error(80) is None
        pf.websocket.shutdown()  # websocket-client leaves the socket open otherwise
    finally:
        api.close()


# --- against podnet up: the kubelet's streams (processes in the pod, connections made
# from inside its network namespace) -------------------------------------------------

UP_OBJECTS = """\
apiVersion: v1
kind: Pod
metadata: {name: pod-b, labels: {app: my-app}}
spec:
  containers: [{name: server, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: my-service}
spec:
  selector: {app: my-app}
  ports: [{protocol: TCP, port: 80, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx}]
"""


def _http_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_streams_against_podnet_up(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        newest = up.kubectl(KUBECTL_VERSIONS[-1])
        newest.ok("apply", "-f", "-", stdin=UP_OBJECTS)
        newest.ok("wait", "--for=condition=Ready", "pod/pod-b", "--timeout=60s", timeout=70)
        newest.ok("rollout", "status", "deploy/web", "--timeout=60s", timeout=70)
        env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(tmp_path)}
        for version in VERSIONS:
            k = up.kubectl(version)
            assert k("exec", "pod-b", "--", "hostname") == Done(0, "pod-b\n", "")
            got = k("exec", "pod-b", "--", "sh", "-c", "exit 3")
            assert got.rc == 3 and "command terminated with exit code 3" in got.err, got
            got = k("exec", "-i", "pod-b", "--", "cat", stdin="through the pod\n")
            assert (got.rc, got.out) == (0, "through the pod\n"), got
            got = k("exec", "pod-b", "-c", "nope", "--", "true")
            assert got.rc == 1 and "container nope is not valid for pod pod-b" in got.err, got
            argv = [str(k.binary), "exec", "-it", "pod-b", "--", "sh"]
            code, out = _in_pty(argv, env, b"stty size; echo at-$(hostname)\nexit 4\n")
            assert (code, b"30 100" in out, b"at-pod-b" in out) == (4, True, True), out
            forward = Forward([str(k.binary)], env, "pod/pod-b", 80)
            try:
                with concurrent.futures.ThreadPoolExecutor(100) as pool:
                    pages = list(pool.map(_http_get, [forward.ports[0]] * 100))
            finally:
                forward.stop()
            assert all(p.startswith(b"HTTP/1.1 200") for p in pages), pages
            assert len({p.partition(b"\r\n\r\n")[2] for p in pages}) == 1  # one body, whole
            for target in ("pod/pod-b", "svc/my-service", "deploy/web"):
                forward = Forward([str(k.binary)], env, target, 80)
                try:
                    page = _http_get(forward.ports[0])
                finally:
                    forward.stop()
                assert page.startswith(b"HTTP/1.1 200") and b"nginx" in page, (target, page[:300])
        api: Any = kubernetes.config
        client = api.new_client_from_config(config_file=str(up.kubeconfig))
        try:
            core = kubernetes.client.CoreV1Api(client)
            resp = stream(
                core.connect_get_namespaced_pod_exec, "pod-b", "default",
                command=["hostname"], stdout=True, stderr=True, stdin=False, tty=False,
                _preload_content=False,
            )  # fmt: skip
            resp.run_forever(timeout=20)
            assert (resp.read_stdout(), resp.returncode) == ("pod-b\n", 0)
            _close(resp)
        finally:
            client.close()
        rc, _ = up.stop()
        assert rc == 0
