"""Benchmark the kubelet streams of ``podnet up``: exec round trip and port-forward throughput.

    sudo .venv/bin/python bench/bench_streams.py [--runs 30] [--mb 100] [--pf-runs 5]
        [--tree DIR ...] [--rounds N] [--skip-exec] [--skip-forward]

* exec: ``kubectl-1.37 exec box -- true`` from ``Popen`` to its exit, ``--runs`` times
  (box is a busybox ``sleep`` pod); beside it ``kubectl-1.37 version --client`` (kubectl's
  own start-up, no request) and ``kubectl-1.37 get pod box`` (one plain request), so the
  exec's own share shows. Server side: there is no cheap hook inside ``up``, so a raw
  client speaks WebSocket ``v5.channel.k8s.io`` itself over a TLS connection made first,
  and times the upgrade request's first byte out -> the Status frame (channel 3) in; the
  TLS handshake before it is timed apart.
* port-forward: a pod of the python image serves ``--mb`` MB on each connection to port
  9000. Read to EOF through ``kubectl-1.37 port-forward pod/srv LOCAL:9000`` (one forward
  kept, a new connection per run) and, in the same run, directly over a socket made in the
  pod's network namespace (podnet.dataplane.netns.socket_in on the sandbox pid that up
  announces) to 127.0.0.1:9000 there; runs interleaved. Figures in MB/s (10^6 bytes).
  Then the same with kubectl-1.20 (plain SPDY, where 1.37 tunnels SPDY in WebSocket).

Before/after in one run: ``--tree DIR`` (repeatable) runs ``up`` from that source tree
(e.g. a ``git worktree`` of the commit before a change; PYTHONPATH=DIR for the ``up``
child), ``--rounds N`` starts a fresh ``up`` per tree per round, trees interleaved, and the
summary gives each tree's medians over all rounds. Without ``--tree``: this checkout.
``kubectl get --raw /version`` is the floor of any request (kubectl start-up, config,
TLS handshake, one GET; no discovery, no pod lookup).

Traffic stays on loopback and in the cluster's namespaces; ``up`` is stopped with SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TRACE = BENCH / "streams_trace"  # a sitecustomize for the up child (--trace)
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from bench_up import KUBECTL, Up, _stats  # noqa: E402

from podnet.dataplane.netns import socket_in  # noqa: E402
from podnet.live.registry import describe_cluster  # noqa: E402

SERVER = (
    "import socket, threading, sys\n"
    "blob = bytes(range(256)) * 4096 * int(sys.argv[1])\n"
    "srv = socket.create_server(('', 9000), backlog=256)\n"
    "def serve(c):\n"
    "    with c:\n"
    "        c.sendall(blob)\n"
    "        c.shutdown(socket.SHUT_WR)\n"
    "while True:\n"
    "    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()\n"
)


def manifest(mb: int) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "box"},
                    "spec": {
                        "containers": [
                            {"name": "box", "image": "busybox", "command": ["sleep", "3600"]}
                        ]
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "srv"},
                    "spec": {
                        "containers": [
                            {
                                "name": "srv",
                                "image": "python",
                                "command": ["python3", "-c", SERVER, str(mb)],
                            }
                        ]
                    },
                },
            ],
        }
    )


def kubectl(
    up: Up, *args: str, timeout: float = 60, binary: Path = KUBECTL
) -> tuple[float, subprocess.CompletedProcess[str]]:
    return timed(up, [str(binary), *args], timeout)


def timed(
    up: Up, argv: list[str], timeout: float = 60
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(up.kubeconfig.parent)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # podnet exec: compiled once, not every run
    t = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    return time.perf_counter() - t, done


def ws_exec_once(
    up: Up, ctx: ssl.SSLContext, token: str, tag: int = 0
) -> tuple[float, float, float, bytes, float]:
    """(TLS connect s, upgrade request -> 101 s, -> Status frame s, the status payload,
    the perf_counter when the request went out). ``tag`` goes in the query (the server
    ignores it) so that ``--trace`` finds this exec's line."""
    t0 = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", up.port), timeout=10)
    sock = ctx.wrap_socket(raw)
    t1 = time.perf_counter()
    try:
        req = (
            "GET /api/v1/namespaces/default/pods/box/exec?command=true&stdout=true&stderr=true"
            f"&benchTag={tag} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Protocol: v5.channel.k8s.io\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        t2 = time.perf_counter()
        sock.sendall(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"closed before the 101: {buf!r}")
            buf += chunk
        t101 = time.perf_counter()
        head, _, buf = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        while True:  # server frames are unmasked; lengths < 2^16 here
            while len(buf) < 2 or len(buf) < _frame_len(buf):
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("closed before the Status")
                buf += chunk
            n = _frame_len(buf)
            frame, buf = buf[:n], buf[n:]
            payload = frame[4:] if frame[1] & 0x7F == 126 else frame[2:]
            if frame[0] & 0x0F == 2 and payload[:1] == b"\x03":
                return t1 - t0, t101 - t2, time.perf_counter() - t2, payload[1:], t2
    finally:
        sock.close()


def _frame_len(buf: bytes) -> int:
    n = buf[1] & 0x7F
    if n == 126:
        return 4 + struct.unpack(">H", buf[2:4])[0] if len(buf) >= 4 else 1 << 30
    if n == 127:
        raise RuntimeError("frame too large for this client")
    return 2 + n


def read_all(sock: socket.socket) -> int:
    got = 0
    buf = bytearray(1 << 20)
    while n := sock.recv_into(buf):
        got += n
    return got


def wait_listening(netns: str, port: int, timeout: float = 30) -> None:
    """Ready is not listening (the pod has no readiness probe): connect until it is."""
    end = time.monotonic() + timeout
    while True:
        with socket_in(netns) as s:
            try:
                s.connect(("127.0.0.1", port))
                return
            except ConnectionRefusedError:
                if time.monotonic() > end:
                    raise
        time.sleep(0.05)


def bench_exec(up: Up, runs: int, trace: Path | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    old = KUBECTL.with_name("kubectl-1.20")
    podnet = str(BENCH.parent / ".venv" / "bin" / "podnet")
    commands: dict[str, list[str]] = {}
    for label, binary in (("kubectl", KUBECTL), ("kubectl-1.20", old)):
        if binary.exists():
            for name, args in (
                ("version --client", ["version", "--client"]),
                ("get --raw /version", ["get", "--raw", "/version"]),
                ("get pod box", ["get", "pod", "box"]),
                ("exec box -- true", ["exec", "box", "--", "true"]),
            ):
                commands[f"{label} {name}"] = [str(binary), *args]
    # podnet's own client: Python start-up and imports, then the exec; --cluster speaks
    # to up's local exec socket, --kubeconfig to its API server as kubectl does
    commands["podnet exec --cluster PID box -- true"] = [
        podnet, "exec", "--cluster", str(up.proc.pid), "box", "--", "true",
    ]  # fmt: skip
    commands["podnet exec --kubeconfig box -- true"] = [
        podnet, "exec", "--kubeconfig", str(up.kubeconfig), "box", "--", "true",
    ]  # fmt: skip
    for name, argv in commands.items():
        times = []
        for i in range(runs + 1):  # the first warms caches (and writes podnet's .pyc)
            took, done = timed(up, argv)
            if done.returncode != 0:
                raise RuntimeError(f"{argv}: {done.returncode} {done.stderr}")
            if i:
                times.append(took)
        out[name + " (ms)"] = _stats(times, 1000, 1)
    out["python client stream exec, in-process (ms)"] = _stats(python_client(up, runs), 1000, 1)
    ctx = ssl.create_default_context(cafile=str(up.data / "pki" / "ca.crt"))
    ctx.check_hostname = False
    token = (up.data / "token").read_text().strip()
    tls, switched, upgrade, sent = [], [], [], []
    for i in range(runs):
        a, b, c, status, t = ws_exec_once(up, ctx, token, i + 1)
        if json.loads(status).get("status") != "Success":
            raise RuntimeError(status)
        tls.append(a)
        switched.append(b)
        upgrade.append(c)
        sent.append(t)
    out["ws v5 TLS connect (ms)"] = _stats(tls, 1000, 2)
    out["ws v5 upgrade request -> 101 (ms)"] = _stats(switched, 1000, 2)
    out["ws v5 upgrade request -> Status (ms)"] = _stats(upgrade, 1000, 2)
    if trace is not None:
        out.update(server_steps(trace, sent))
    return out


def python_client(up: Up, runs: int) -> list[float]:
    """Seconds per ``exec box -- true`` through the Python ``kubernetes`` client's
    WebSocket stream (a new TLS connection each, as the client makes), the client
    loaded once: an exec with no process start-up of its own."""
    from kubernetes import client, config  # a slow import, only here
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(str(up.kubeconfig)))  # type: ignore[no-untyped-call]
    times = []
    for i in range(runs + 1):  # the first builds the client's TLS context
        t = time.perf_counter()
        ws = stream(
            api.connect_get_namespaced_pod_exec, "box", "default", command=["true"],
            stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False,
        )  # fmt: skip
        ws.run_forever(timeout=10)
        code = ws.returncode
        ws.close()
        if i:
            times.append(time.perf_counter() - t)
        if code != 0:
            raise RuntimeError(f"python client exec: exit {code}")
    api.api_client.close()
    return times


STEPS = (  # (label, from, to): the trace's points, in the order an exec passes them
    ("request sent -> bytes in aiohttp", "sent", "rx"),
    ("-> handler", "rx", "handler"),
    ("-> exec command made", "handler", "command out"),
    ("-> spawn entered (thread)", "command out", "spawn in"),
    ("-> spawn returned", "spawn in", "spawn out"),
    ("-> process started (loop)", "spawn out", "started"),
    ("-> 101 sent", "started", "upgraded"),
    ("-> exit seen (pidfd)", "upgraded", "exited"),
    ("-> Status written", "exited", "status"),
    ("server: bytes in -> Status written", "rx", "status"),
)


def server_steps(trace: Path, sent: list[float]) -> dict[str, Any]:
    """Per-step times of the raw client's execs from ``up``'s trace (one JSON line per
    exec, bench/streams_trace), matched to the client's send times in order."""
    end = time.monotonic() + 10  # the last line is written once its connection is closed
    while True:
        lines = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
        tagged = {int(r["tag"]): r for r in lines if r.get("tag")}
        if len(tagged) >= len(sent) or time.monotonic() > end:
            break
        time.sleep(0.05)
    if sorted(tagged) != list(range(1, len(sent) + 1)):
        raise RuntimeError(f"traced execs {sorted(tagged)} for {len(sent)} sent")
    rows = [tagged[i + 1] for i in range(len(sent))]
    out: dict[str, Any] = {}
    for row, t in zip(rows, sent, strict=True):
        row["sent"] = t
    for label, a, b in STEPS:
        out[f"trace {label} (ms)"] = _stats([r[b] - r[a] for r in rows], 1000, 2)
    for sealed, name in ((1.0, "sealed crun"), (0.0, "crun from its file")):
        some = [r for r in rows if r.get("sealed") == sealed]
        for label, a, b in STEPS[-3:] if some else ():
            out[f"trace {name}: {label} (ms)"] = _stats([r[b] - r[a] for r in some], 1000, 2)
    return out


def bench_forward(up: Up, mb: int, runs: int, binary: Path) -> dict[str, Any]:
    env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(up.kubeconfig.parent)}
    fwd = subprocess.Popen(
        [str(binary), "port-forward", "pod/srv", ":9000"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert fwd.stdout is not None
        line = fwd.stdout.readline()
        if not line.startswith("Forwarding from 127.0.0.1:"):
            raise RuntimeError(f"port-forward: {line!r}")
        local = int(line.split(":")[1].split()[0])
        sandbox = describe_cluster(up.proc.pid)["pods"]["default/srv"]
        wait_listening(f"/proc/{sandbox}/ns/net", 9000)
        size = mb * 1024 * 1024
        server = pod_server_pid()
        fwd_t, direct_t = [], []
        cpu = {k: 0.0 for k in ("up", "kubectl", "server fwd", "reader fwd", "server", "reader")}
        for _ in range(runs):
            t, c = time.perf_counter(), _cpus(up.proc.pid, fwd.pid, server)
            with socket.create_connection(("127.0.0.1", local), timeout=60) as s:
                got = read_all(s)
            fwd_t.append(time.perf_counter() - t)
            d = [b - a for a, b in zip(c, _cpus(up.proc.pid, fwd.pid, server), strict=True)]
            cpu["up"] += d[0]
            cpu["kubectl"] += d[1]
            cpu["server fwd"] += d[2]
            cpu["reader fwd"] += d[3]
            if got != size:
                raise RuntimeError(f"port-forward read {got} of {size}")
            t, c = time.perf_counter(), _cpus(up.proc.pid, fwd.pid, server)
            with socket_in(f"/proc/{sandbox}/ns/net") as s:
                s.settimeout(60)
                s.connect(("127.0.0.1", 9000))
                got = read_all(s)
            direct_t.append(time.perf_counter() - t)
            d = [b - a for a, b in zip(c, _cpus(up.proc.pid, fwd.pid, server), strict=True)]
            cpu["server"] += d[2]
            cpu["reader"] += d[3]
            if got != size:
                raise RuntimeError(f"direct read {got} of {size}")
    finally:
        fwd.terminate()
        fwd.wait(10)
    mbs = size / 1e6
    gbs = runs * size / 1e9
    return {
        "bytes per connection": size,
        "port-forward (MB/s)": _stats([mbs / x for x in fwd_t], 1, 0),
        "direct in the pod's netns (MB/s)": _stats([mbs / x for x in direct_t], 1, 0),
        "direct / port-forward (median s ratio)": round(
            sorted(fwd_t)[len(fwd_t) // 2] / sorted(direct_t)[len(direct_t) // 2], 2
        ),
        **{f"CPU s per GB: {k}": round(v / gbs, 3) for k, v in cpu.items()},
    }


def pod_server_pid() -> int:
    """The srv pod's python server (its command line is this file's SERVER)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if SERVER.encode() in argv:
                return int(entry.name)
    raise RuntimeError("the srv pod's server process is not found")


def _cpus(up: int, fwd: int, server: int) -> tuple[float, float, float, float]:
    """CPU seconds so far of up (all threads), kubectl, the pod's server, this thread."""
    return _cpu(up), _cpu(fwd), _cpu(server), time.thread_time()


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(args: argparse.Namespace, tree: Path | None) -> dict[str, Any]:
    """One fresh ``up`` (from ``tree``, else this checkout): exec, then port-forwards."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PODNET_STREAMS_TRACE")}
    path = [str(TRACE)] if args.trace else []
    if tree is not None:
        path.append(str(tree))
    if path:
        os.environ["PYTHONPATH"] = os.pathsep.join(path)
    result: dict[str, Any] = {"tree": str(tree or BENCH.parent), "load before": os.getloadavg()}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
            trace = Path(tmp) / "trace.jsonl" if args.trace else None
            if trace is not None:
                os.environ["PODNET_STREAMS_TRACE"] = str(trace)
                if args.alternate:
                    os.environ["PODNET_STREAMS_TRACE_ALTERNATE"] = "1"
            up = Up(Path(tmp), nodes=1)
            os.environ.pop("PODNET_STREAMS_TRACE", None)
            os.environ.pop("PODNET_STREAMS_TRACE_ALTERNATE", None)
            try:
                up.wait_readyz(60)
                up.line("API ready", 30)
                env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": tmp}
                subprocess.run(
                    [str(KUBECTL), "apply", "-f", "-"],
                    input=manifest(args.mb), text=True, env=env, check=True,
                    capture_output=True,
                )  # fmt: skip
                _, done = kubectl(
                    up, "wait", "--for=condition=Ready", "pod/box", "pod/srv",
                    "--timeout=90s", timeout=100,
                )  # fmt: skip
                if done.returncode != 0:
                    raise RuntimeError(done.stderr)
                if not args.skip_exec:
                    result["exec"] = bench_exec(up, args.runs, trace)
                if not args.skip_forward:
                    result["port-forward 1.37"] = bench_forward(up, args.mb, args.pf_runs, KUBECTL)
                    old = KUBECTL.with_name("kubectl-1.20")
                    if old.exists():  # plain SPDY, no WebSocket tunnel
                        result["port-forward 1.20"] = bench_forward(up, args.mb, args.pf_runs, old)
            finally:
                result["up stop"] = up.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    result["load after"] = os.getloadavg()
    return result


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per tree: the median over rounds of each figure's per-round median."""
    out: dict[str, Any] = {}
    for r in rounds:
        tree = out.setdefault(r["tree"], {})
        for section in ("exec", "port-forward 1.37", "port-forward 1.20"):
            for key, value in r.get(section, {}).items():
                fig = value["median"] if isinstance(value, dict) else value
                tree.setdefault(f"{section}: {key}", []).append(fig)
    return {
        tree: {k: {"median": statistics.median(v), "rounds": v} for k, v in figs.items()}
        for tree, figs in out.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--pf-runs", type=int, default=5)
    ap.add_argument("--tree", type=Path, action="append", default=[])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--skip-exec", action="store_true")
    ap.add_argument("--skip-forward", action="store_true")
    ap.add_argument("--trace", action="store_true", help="server-side exec steps")
    ap.add_argument(
        "--alternate",
        action="store_true",
        help="with --trace: every other exec without the sealed crun",
    )
    args = ap.parse_args()
    trees: list[Path | None] = [t.resolve() for t in args.tree] or [None]
    rounds = []
    for _ in range(args.rounds):
        for tree in trees:
            rounds.append(one_round(args, tree))
            print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rounds": rounds,
        "summary": summary(rounds),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
