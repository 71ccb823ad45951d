"""Benchmark ``podnet up``: start-up, the seed through kubectl, 1,000 replicas, memory.

    sudo .venv/bin/python bench/bench_up.py [--runs 5] [--replicas 1000] [--nodes 10]
                                            [--patches 200] [--only startup|seed|scale]
                                            [--py-spy] [--py-spy-watch]
                                            [--baseline DIR] [--scale-runs N]
                                            [--runtime oci|process]
                                            [--no-containers | --no-sandboxes]

* startup: ``podnet up --nodes 2`` from ``Popen`` to ``/readyz`` answering 200 (polled
  every 5 ms over HTTPS, unverified: the CA does not exist yet on a first start), with
  a fresh data dir ("cold": certificates and store created) and again on the same one
  ("warm": a restart); the "API ready ... in" figure it prints; its RSS once idle; its
  SIGTERM -> exit. Baseline in the same runs: ``podnet run`` of a one-ConfigMap manifest
  from ``Popen`` to its "cluster up in" line.
* seed: examples/seed/pod-to-service.yaml through ``kubectl-1.37 apply -n NS -f``, in a
  fresh namespace per run, from the apply's start to pod-a's log (GET pods/log on a
  kept-alive connection, every 20 ms) holding "Welcome to nginx!"; as shipped (pods
  before the Service: pod-a can race the Service into DNS, fail, and wait out the
  kubelet's back-off) and with the Service first. pod-a's restartCount when the page
  shows tells which happened.
* scale: ``podnet up --nodes 10``; a Deployment of busybox ``sleep 3600`` at 0 replicas
  and a Service over it; PATCH its scale to ``--replicas``; watches on pods and on the
  Service's EndpointSlices tell when every pod is Running and every Ready pod's IP is in
  a slice. Then GET the pods list (JSON and Table, as kubectl asks) on a kept-alive
  connection, timed at the client; then ``--patches`` label patches of one pod with a
  watch open on the namespace's pods, PATCH response -> event arrival. RSS before and
  after. ``--py-spy`` records the ``up`` process during the scale-up and prints its
  hottest frames (``--py-spy-watch``: during the pod PATCHes).
* ``--baseline DIR`` runs each scale-up also with the podnet of DIR (e.g. ``git worktree
  add /tmp/base <commit>``) first on PYTHONPATH, alternating with this tree, in the same
  run; ``--scale-runs`` per tree. BENCHMARK-ONLY modes of the kubelet, for the control
  path alone: ``--no-containers`` (sandboxes and IPs made, no container process, each
  reported Running and ready at once) and ``--no-sandboxes`` (no sandbox either).

Everything is bounded by timeouts; a goal not reached is reported as such. Traffic stays
on loopback and in the cluster's own namespaces; each ``up`` is stopped with SIGTERM and
its exit checked.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import http.client
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PODNET = [str(REPO / ".venv" / "bin" / "podnet")]
if not Path(PODNET[0]).exists():
    PODNET = [sys.executable, "-m", "podnet"]
KUBECTL = REPO / ".tools" / "bin" / "kubectl-1.37"
SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def _stats(xs: list[float], scale: float = 1.0, nd: int = 3) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    ys = sorted(x * scale for x in xs)
    return {
        "median": round(statistics.median(ys), nd),
        "min": round(ys[0], nd),
        "p90": round(ys[int(0.9 * (len(ys) - 1))], nd),
        "p99": round(ys[int(0.99 * (len(ys) - 1))], nd),
        "max": round(ys[-1], nd),
        "n": len(ys),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


# --- the up process --------------------------------------------------------------


class Tree:
    """Which podnet runs ``up``, and with what environment: this checkout, or a
    baseline tree (``--baseline DIR``, e.g. a ``git worktree`` of an older commit) put
    first on ``PYTHONPATH``; ``env`` adds e.g. ``PODNET_RUNTIME`` or the kubelet's
    benchmark-only ``PODNET_BENCH_NO_CONTAINERS``."""

    def __init__(self, label: str = "this tree", path: Path | None = None, **env: str) -> None:
        self.label = label
        self.env = dict(env)
        self.podnet = PODNET
        if path is not None:
            self.podnet = [sys.executable, "-m", "podnet"]
            self.env["PYTHONPATH"] = str(path)


class Up:
    """One ``podnet up`` child in its own session; stderr collected by a thread."""

    def __init__(
        self, tmp: Path, nodes: int, data: Path | None = None, tree: Tree | None = None
    ) -> None:
        tree = tree or Tree()
        self.port = _free_port()
        self.kubeconfig = tmp / "kubeconfig"
        self.data = data or tmp / "data"
        self.lines: list[tuple[float, str]] = []
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [
                *tree.podnet,
                "up",
                "--nodes",
                str(nodes),
                "--port",
                str(self.port),
                "--kubeconfig",
                str(self.kubeconfig),
                "--data-dir",
                str(self.data),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
            start_new_session=True,
            env={**os.environ, **tree.env},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip()))

    def line(self, needle: str, timeout: float) -> tuple[float, str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for at, text in list(self.lines):
                if needle in text:
                    return at, text
            if self.proc.poll() is not None:
                break
            time.sleep(0.005)
        raise RuntimeError(f"no {needle!r} in {timeout}s: {self.lines[-20:]}")

    def wait_readyz(self, timeout: float) -> float:
        """Monotonic time of the first 200 from /readyz (unverified TLS)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        end = self.t0 + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"podnet up exited {self.proc.returncode}: {self.lines}")
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=2)
            try:
                conn.request("GET", "/readyz")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    return time.monotonic()
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.005)
        raise RuntimeError(f"/readyz not 200 within {timeout}s")

    def api(self) -> Api:
        return Api(self.port, self.data)

    def stop(self, timeout: float = 180.0) -> dict[str, Any]:
        """SIGTERM, wait; SIGKILL the session if it did not exit."""
        t = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
            out: dict[str, Any] = {"exit_code": rc, "sigterm_to_exit_s": time.monotonic() - t}
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            out = {"exit_code": None, "error": f"not exited {timeout}s after SIGTERM"}
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return out


class Api:
    """A kept-alive HTTPS connection with the cluster's CA and bearer token."""

    def __init__(self, port: int, data: Path) -> None:
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(data / "pki" / "ca.crt"))
        self.ctx.check_hostname = False  # the serving cert's SANs are not what we time
        self.token = (data / "token").read_text().strip()
        self.conn = self.connect()

    def connect(self, timeout: float = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.ctx, timeout=timeout
        )

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        accept: str = "application/json",
        ctype: str = "application/json",
    ) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte read)."""
        data = None if body is None else json.dumps(body).encode()
        hdrs = self.headers(Accept=accept)
        if data is not None:
            hdrs["Content-Type"] = ctype
        t = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = self.connect()
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
            raw = resp.read()
        return resp.status, raw, time.perf_counter() - t

    def json(
        self, method: str, path: str, body: Any = None, ctype: str = "application/json"
    ) -> Any:
        status, raw, _ = self.call(method, path, body, ctype=ctype)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {raw[:500]!r}")
        return json.loads(raw)

    def close(self) -> None:
        self.conn.close()


class Watch(threading.Thread):
    """A watch stream read on its own thread; ``on_event(arrival, event)`` per line."""

    def __init__(
        self, api: Api, path: str, rv: str, on_event: Callable[[float, Any], None]
    ) -> None:
        super().__init__(daemon=True)
        sep = "&" if "?" in path else "?"
        self.path = f"{path}{sep}watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
        self.conn = api.connect(timeout=600)
        self.headers = api.headers(Accept="application/json")
        self.on_event = on_event
        self.error: str | None = None
        self.conn.request("GET", self.path, headers=self.headers)
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise RuntimeError(f"watch {path}: {self.resp.status}")
        self.start()

    def run(self) -> None:
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    self.error = "watch ended"
                    return
                at = time.perf_counter()
                self.on_event(at, json.loads(line))
        except (OSError, ValueError, http.client.HTTPException) as e:
            self.error = repr(e)

    def close(self) -> None:
        """Shut the socket down so the reader sees EOF; close once it has returned."""
        with contextlib.suppress(OSError):
            if self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.join(5)
        self.resp.close()
        self.conn.close()


@contextlib.contextmanager
def py_spy(pid: int, out: Path, enabled: bool) -> Iterator[None]:
    """``py-spy record --format raw`` on ``pid`` while the block runs; with
    ``BENCH_UP_PY_SPY_GIL=1`` only the thread holding the GIL is sampled (``--gil``), so
    threads waiting for a lock or the GIL do not show as busy; ``BENCH_UP_PY_SPY_RATE``:
    samples per second (100)."""
    if not enabled:
        yield
        return
    spy = REPO / ".venv" / "bin" / "py-spy"
    proc = subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--output",
            str(out),
            "--rate",
            os.environ.get("BENCH_UP_PY_SPY_RATE", "100"),
            "--nonblocking",
            "--threads",
            *(["--gil"] if os.environ.get("BENCH_UP_PY_SPY_GIL") else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def top_frames(raw: Path, n: int = 15) -> dict[str, Any]:
    """Hottest frames of a py-spy raw (collapsed) profile: self and inclusive, % of
    samples, idle threads (waits in select/epoll/lock/sleep) left out."""
    self_c: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    idle = re.compile(
        r"\b(select|poll|epoll|wait|_wait_for_tstate_lock|sleep|acquire|accept"
        r"|recv_into|readinto|_run_once)\b \("
    )
    if not raw.exists():
        return {"error": "no profile written"}
    for line in raw.read_text(errors="replace").splitlines():  # frame names may be any bytes
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():  # a frame name holding a newline
            continue
        frames = stack.split(";")
        if idle.search(frames[-1]):
            continue
        c = int(count)
        total += c
        threads[frames[0][:60]] += c
        self_c[frames[-1]] += c
        for f in set(frames[1:]):
            incl[f] += c

    def pct(c: int) -> float:
        return round(100 * c / max(total, 1), 1)

    return {
        "busy_samples": total,
        "threads": {k: pct(v) for k, v in threads.most_common(8)},
        "self": {k: pct(v) for k, v in self_c.most_common(n)},
        "inclusive": {k: pct(v) for k, v in incl.most_common(n)},
    }


# --- startup ---------------------------------------------------------------------

EMPTY = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: empty}\ndata: {a: b}\n"


def bench_startup(runs: int, tmp: Path) -> dict[str, Any]:
    rows: dict[str, list[float]] = collections.defaultdict(list)
    exits: list[Any] = []
    empty = tmp / "empty.yaml"
    empty.write_text(EMPTY)
    for i in range(runs):
        run_dir = tmp / f"start{i}"
        run_dir.mkdir()
        for kind in ("cold", "warm"):
            up = Up(run_dir, nodes=2)
            try:
                ready = up.wait_readyz(30)
                rows[f"{kind}_readyz_s"].append(ready - up.t0)
                _, text = up.line("API ready at", 30)
                rows[f"{kind}_printed_s"].append(float(text.split(" in ")[1].split("s")[0]))
                time.sleep(1.0)
                rows[f"{kind}_idle_rss_mb"].append(_rss_mb(up.proc.pid))
            finally:
                stopped = up.stop()
            exits.append(stopped.get("exit_code"))
            if "sigterm_to_exit_s" in stopped:
                rows[f"{kind}_sigterm_to_exit_s"].append(stopped["sigterm_to_exit_s"])
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [*PODNET, "run", "-f", str(empty), "--nodes", "2", "--timeout", "30"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
            start_new_session=True,
        )
        try:
            at, text = _read_until(proc, "cluster up in", 30)
            rows["run_cluster_up_line_s"].append(at - t0)
            rows["run_cluster_up_printed_s"].append(
                float(text.split("cluster up in ")[1].split("s")[0])
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
    out: dict[str, Any] = {k: _stats(v) for k, v in rows.items()}
    out["up_exit_codes"] = exits
    return out


def _read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float) -> tuple[float, str]:
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    seen = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
            for line in seen.decode(errors="replace").splitlines():
                if needle in line:
                    return time.monotonic(), line
    raise RuntimeError(f"no {needle!r} within {timeout}s: {seen[-2000:]!r}")


# --- seed ------------------------------------------------------------------------


def _kubectl(up: Up, *args: str, timeout: float = 60) -> tuple[int, str, float]:
    t = time.monotonic()
    proc = subprocess.run(
        [str(KUBECTL), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(up.kubeconfig.parent)},
    )
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t


def _service_first(text: str) -> str:
    docs = [d for d in text.split("\n---\n") if d.strip()]
    docs.sort(key=lambda d: "kind: Service" not in d)
    return "\n---\n".join(docs)


def bench_seed(runs: int, tmp: Path) -> dict[str, Any]:
    files = {"as_shipped": SEED, "service_first": tmp / "seed-service-first.yaml"}
    text = _service_first(SEED.read_text())
    files["service_first"].write_text(text)
    # The pods alone, 1.5 s after the Service: what the path costs once the Service is
    # in the DNS pod's records (re-read on a poll of the file).
    service_only, pods_only = tmp / "seed-service.yaml", tmp / "seed-pods.yaml"
    service_only.write_text(text.split("\n---\n", 1)[0])
    pods_only.write_text(text.split("\n---\n", 1)[1])
    files["pods_1_5s_after_service"] = pods_only
    rows: dict[str, list[float]] = collections.defaultdict(list)
    restarts: dict[str, list[int]] = collections.defaultdict(list)
    failures: list[str] = []
    up = Up(tmp, nodes=2)
    try:
        up.wait_readyz(30)
        up.line("API ready at", 30)
        api = up.api()
        rc, out, _ = _kubectl(up, "get", "ns")  # discovery cache warm, as a user's is
        assert rc == 0, out
        for i in range(runs):
            for variant, path in files.items():
                ns = f"seed-{variant.replace('_', '-').replace('.', '-')}-{i}"
                api.json("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
                if path == pods_only:
                    rc, out, _ = _kubectl(up, "apply", "-n", ns, "-f", str(service_only))
                    assert rc == 0, out
                    time.sleep(1.5)
                t0 = time.monotonic()
                rc, out, took = _kubectl(up, "apply", "-n", ns, "-f", str(path))
                if rc != 0:
                    failures.append(f"{ns}: apply exited {rc}: {out}")
                    continue
                rows[f"{variant}_kubectl_apply_s"].append(took)
                log = f"/api/v1/namespaces/{ns}/pods/pod-a/log"
                seen = None
                while time.monotonic() < t0 + 30:
                    status, raw, _ = api.call("GET", log, accept="*/*")
                    if status == 200 and b"Welcome to nginx!" in raw:
                        seen = time.monotonic()
                        break
                    time.sleep(0.02)
                if seen is None:
                    failures.append(f"{ns}: no nginx page in pod-a's log within 30 s")
                else:
                    rows[f"{variant}_apply_to_page_s"].append(seen - t0)
                pod = api.json("GET", f"/api/v1/namespaces/{ns}/pods/pod-a")
                cs = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
                restarts[variant].append(int(cs.get("restartCount", 0)))
                api.call("DELETE", f"/api/v1/namespaces/{ns}")
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    if api.call("GET", f"/api/v1/namespaces/{ns}")[0] == 404:
                        break
                    time.sleep(0.1)
                else:
                    failures.append(f"{ns}: namespace still there 30 s after DELETE")
        api.close()
    finally:
        stopped = up.stop()
    out_: dict[str, Any] = {k: _stats(v) for k, v in rows.items()}
    out_["pod_a_restart_count_when_page_seen"] = dict(restarts)
    out_["failures"] = failures
    out_["teardown"] = stopped
    return out_


# --- scale -----------------------------------------------------------------------


def _deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "idle"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "idle"}},
            "template": {
                "metadata": {"labels": {"app": "idle"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
                },
            },
        },
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "idle"},
    "spec": {"selector": {"app": "idle"}, "ports": [{"port": 80, "targetPort": 80}]},
}


class ScaleState:
    """Pods and the Service's slices as the watches last told them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pods: dict[str, tuple[str, bool, str]] = {}  # name -> (phase, ready, ip)
        self.bound: set[str] = set()  # pods with spec.nodeName
        self.slices: dict[str, set[str]] = {}  # slice -> ready addresses
        self.events = 0
        self.deleted: list[str] = []  # pods deleted meanwhile (none expected)

    def on_pod(self, _at: float, ev: Any) -> None:
        obj = ev["object"]
        if ev["type"] == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        with self.lock:
            self.events += 1
            if ev["type"] == "DELETED":
                self.pods.pop(name, None)
                self.bound.discard(name)
                self.deleted.append(name)
                return
            if (obj.get("spec") or {}).get("nodeName"):
                self.bound.add(name)
            st = obj.get("status", {})
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in st.get("conditions") or []
            )
            self.pods[name] = (st.get("phase", ""), ready, st.get("podIP", ""))

    def on_slice(self, _at: float, ev: Any) -> None:
        obj = ev["object"]
        if ev["type"] == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        with self.lock:
            self.events += 1
            if ev["type"] == "DELETED":
                self.slices.pop(name, None)
                return
            self.slices[name] = {
                a
                for ep in obj.get("endpoints") or []
                if (ep.get("conditions") or {}).get("ready", True)
                for a in ep.get("addresses") or []
            }

    def stages(self) -> tuple[int, int]:
        """(pods that exist, pods bound to a node)."""
        with self.lock:
            return len(self.pods), len(self.bound)

    def counts(self) -> tuple[int, int, int]:
        """(pods Running, pods Ready, Ready pods whose IP is in a slice)."""
        with self.lock:
            addrs = set().union(*self.slices.values()) if self.slices else set()
            running = sum(1 for p in self.pods.values() if p[0] == "Running")
            ready = [p for p in self.pods.values() if p[1]]
            served = sum(1 for p in ready if p[2] and p[2] in addrs)
            return running, len(ready), served


def bench_scale(
    replicas: int,
    nodes: int,
    patches: int,
    gets: int,
    tmp: Path,
    spy: bool,
    tree: Tree | None = None,
    spy_watch: bool = False,
) -> dict[str, Any]:
    tree = tree or Tree()
    result: dict[str, Any] = {"tree": tree.label, "env": tree.env, "replicas": replicas}
    result["nodes"] = nodes
    result["loadavg_before"] = os.getloadavg()
    up = Up(tmp, nodes=nodes, tree=tree)
    watches: list[Watch] = []
    try:
        ready = up.wait_readyz(60)
        result["readyz_s"] = round(ready - up.t0, 3)
        up.line("API ready at", 30)
        time.sleep(2)
        result["rss_idle_mb"] = _rss_mb(up.proc.pid)
        api = up.api()
        ns = "default"
        api.json("POST", f"/api/v1/namespaces/{ns}/services", SERVICE)
        api.json("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment(0))
        time.sleep(1)
        state = ScaleState()
        rv = api.json("GET", f"/api/v1/namespaces/{ns}/pods")["metadata"]["resourceVersion"]
        watches.append(Watch(api, f"/api/v1/namespaces/{ns}/pods", rv, state.on_pod))
        sl = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
        sel = "?labelSelector=kubernetes.io%2Fservice-name%3Didle"
        rv = api.json("GET", sl + sel)["metadata"]["resourceVersion"]
        watches.append(Watch(api, sl + sel, rv, state.on_slice))
        cpu0 = _cpu_s(up.proc.pid)
        timeline: list[tuple[float, ...]] = []
        with py_spy(up.proc.pid, tmp / "scale.raw", spy):
            t0 = time.monotonic()
            api.json(
                "PATCH",
                f"/apis/apps/v1/namespaces/{ns}/deployments/idle/scale",
                {"spec": {"replicas": replicas}},
                ctype="application/merge-patch+json",
            )
            all_running = all_served = None
            next_mark = 0.0
            while time.monotonic() < t0 + 120:
                running, ready_n, served = state.counts()
                now = time.monotonic() - t0
                if now >= next_mark:
                    timeline.append((round(now, 2), *state.stages(), running, served))
                    next_mark += 1.0
                if all_running is None and running >= replicas:
                    all_running = now
                if running >= replicas and ready_n >= replicas and served >= replicas:
                    all_served = now
                    break
                if any(w.error for w in watches):
                    raise RuntimeError(f"watch broke: {[w.error for w in watches]}")
                time.sleep(0.02)
        result["all_running_s"] = None if all_running is None else round(all_running, 2)
        result["all_running_ready_and_in_slices_s"] = (
            None if all_served is None else round(all_served, 2)
        )
        result["at_end_running_ready_served"] = state.counts()
        result["pods_deleted_during_scale"] = len(state.deleted)
        if all_served is None:  # why not: the pods' phases and reasons, counted
            pods = api.json("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
            why = collections.Counter(
                f"{p['status'].get('phase')}/{p['status'].get('reason', '')}" for p in pods
            )
            result["at_end_pod_phase_reason"] = dict(why)
        result["timeline_s_pods_bound_running_served"] = timeline
        result["up_cpu_s_during_scale"] = round(_cpu_s(up.proc.pid) - cpu0, 2)
        if spy:
            keep = os.environ.get("BENCH_UP_PY_SPY_RAW")  # the raw profile, for a closer look
            if keep and (tmp / "scale.raw").exists():
                shutil.copyfile(tmp / "scale.raw", keep)
            result["py_spy_scale"] = top_frames(tmp / "scale.raw")
            keep = os.environ.get("BENCH_UP_KEEP_PROFILE")  # a directory: keep the raw profile
            if keep:
                name = f"scale-{os.getpid()}-{time.time():.0f}.raw"
                shutil.copy(tmp / "scale.raw", Path(keep) / name)
        result["settled_after_s"] = _settle(up.proc.pid, 90)
        result["rss_after_pods_mb"] = _rss_mb(up.proc.pid)
        result["rss_peak_mb"] = _rss_mb(up.proc.pid, "VmHWM")
        result["get_pods"] = bench_get(api, ns, gets)
        with state.lock:
            target = sorted(state.pods)[0]
        with py_spy(up.proc.pid, tmp / "watch.raw", spy_watch):
            cpu0 = _cpu_s(up.proc.pid)
            result["watch_latency_pod"] = bench_watch(api, ns, "pods", target, patches)
            result["up_cpu_s_during_pod_watch"] = round(_cpu_s(up.proc.pid) - cpu0, 2)
        if spy_watch:
            result["py_spy_pod_watch"] = top_frames(tmp / "watch.raw", 25)
        _settle(up.proc.pid, 60)
        api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "bench"}})
        result["watch_latency_configmap"] = bench_watch(api, ns, "configmaps", "bench", patches)
        result["rss_end_mb"] = _rss_mb(up.proc.pid)
        result["loadavg_after"] = os.getloadavg()
        api.close()
    finally:
        for w in watches:
            w.close()
        result["teardown"] = up.stop(timeout=300)
        result["up_stderr_tail"] = [text for _, text in up.lines[-15:]]
    return result


def bench_get(api: Api, ns: str, n: int) -> dict[str, Any]:
    """The pods list as kubectl get asks for it (Table) and as clients do (JSON)."""
    path = f"/api/v1/namespaces/{ns}/pods?limit=500"
    out: dict[str, Any] = {}
    for name, accept, p in (
        ("table_limit500_ms", TABLE, path),
        ("table_all_ms", TABLE, f"/api/v1/namespaces/{ns}/pods"),
        ("json_all_ms", "application/json", f"/api/v1/namespaces/{ns}/pods"),
    ):
        times, size, items = [], 0, 0
        api.call("GET", p, accept=accept)  # warm the connection
        for _ in range(n):
            status, raw, took = api.call("GET", p, accept=accept)
            if status != 200:
                raise RuntimeError(f"GET {p}: {status}")
            times.append(took)
            size = len(raw)
        doc = json.loads(raw)
        items = len(doc.get("rows", doc.get("items", [])))
        out[name] = {**_stats(times, 1e3, 1), "bytes": size, "items": items}
    # kubectl get pods's default: a Table, chunked with limit=500, the rest by continue.
    t = time.perf_counter()
    status, raw, _ = api.call("GET", path, accept=TABLE)
    token = json.loads(raw).get("metadata", {}).get("continue")
    pages = 1
    while token:
        _, raw, _ = api.call("GET", f"{path}&continue={token}", accept=TABLE)
        token = json.loads(raw).get("metadata", {}).get("continue")
        pages += 1
    out["table_as_kubectl_pages"] = {
        "pages": pages,
        "ms": round((time.perf_counter() - t) * 1e3, 1),
    }
    return out


def _settle(pid: int, timeout: float) -> float | None:
    """Wait until ``pid`` uses under 10 % of a CPU over a second; seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() < t0 + timeout:
        cpu = _cpu_s(pid)
        time.sleep(1.0)
        if _cpu_s(pid) - cpu < 0.1:
            return round(time.monotonic() - t0, 1)
    return None


def bench_watch(api: Api, ns: str, plural: str, target: str, n: int) -> dict[str, Any]:
    """PATCH one object's label ``n`` times, one at a time, a watch open on its kind in
    the namespace; PATCH response (and send) -> the event's arrival."""
    arrivals: dict[str, float] = {}
    got = threading.Condition()

    def on_event(at: float, ev: Any) -> None:
        if ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == target:
            with got:
                arrivals[ev["object"]["metadata"]["resourceVersion"]] = at
                got.notify_all()

    coll = f"/api/v1/namespaces/{ns}/{plural}"
    rv = api.json("GET", f"{coll}?limit=1")["metadata"]["resourceVersion"]
    watch = Watch(api, coll, rv, on_event)
    after_resp, after_send, missed = [], [], 0
    try:
        for i in range(n):
            body = {"metadata": {"labels": {"bench-seq": str(i)}}}
            sent = time.perf_counter()
            status, raw, _ = api.call(
                "PATCH",
                f"{coll}/{target}",
                body,
                ctype="application/merge-patch+json",
            )
            answered = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"PATCH: {status} {raw[:300]!r}")
            new_rv = json.loads(raw)["metadata"]["resourceVersion"]
            with got:
                if not got.wait_for(functools.partial(arrivals.__contains__, new_rv), timeout=5):
                    missed += 1
                    continue
                at = arrivals[new_rv]
            after_resp.append(at - answered)
            after_send.append(at - sent)
    finally:
        watch.close()
    return {
        "object": f"{plural}/{target}",
        "patch_response_to_event_ms": _stats(after_resp, 1e3, 2),
        "patch_sent_to_event_ms": _stats(after_send, 1e3, 2),
        "events_before_response": sum(1 for x in after_resp if x < 0),
        "missed_within_5s": missed,
    }


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--patches", type=int, default=200)
    ap.add_argument("--gets", type=int, default=20)
    ap.add_argument("--only", choices=["startup", "seed", "scale"])
    ap.add_argument("--py-spy", action="store_true", help="profile the up process while scaling")
    ap.add_argument(
        "--py-spy-watch", action="store_true", help="profile it during the pod watch PATCHes"
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a podnet tree (e.g. a git worktree of an older commit) whose scale runs "
        "alternate with this tree's, in the same run",
    )
    ap.add_argument("--scale-runs", type=int, default=1, help="scale runs per tree")
    ap.add_argument("--runtime", choices=["oci", "process"], help="PODNET_RUNTIME for up")
    ap.add_argument(
        "--no-containers",
        action="store_true",
        help="BENCHMARK ONLY: the kubelet starts no container process and reports them "
        "Running at once (PODNET_BENCH_NO_CONTAINERS=1): the control path alone",
    )
    ap.add_argument(
        "--no-sandboxes",
        action="store_true",
        help="BENCHMARK ONLY: as --no-containers, and no sandbox either (an IP made up "
        "from the node's podCIDR; PODNET_BENCH_NO_CONTAINERS=nosandbox)",
    )
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    print(
        json.dumps(
            {
                "machine": f"nproc {os.cpu_count()}, {platform.processor() or platform.machine()}",
                "kernel": platform.release(),
                "python": platform.python_version(),
                "commit": _commit(),
                "loadavg_before": os.getloadavg(),
            }
        ),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-up-") as d:
        tmp = Path(d)
        if args.only in (None, "startup"):
            (tmp / "startup").mkdir()
            print(json.dumps({"startup": bench_startup(args.runs, tmp / "startup")}), flush=True)
            print(json.dumps({"loadavg": os.getloadavg()}), flush=True)
        if args.only in (None, "seed"):
            (tmp / "seed").mkdir()
            print(json.dumps({"seed": bench_seed(args.runs, tmp / "seed")}), flush=True)
            print(json.dumps({"loadavg": os.getloadavg()}), flush=True)
        if args.only in (None, "scale"):
            tree_env: dict[str, str] = {}
            if args.runtime:
                tree_env["PODNET_RUNTIME"] = args.runtime
            if args.no_containers:
                tree_env["PODNET_BENCH_NO_CONTAINERS"] = "1"
            if args.no_sandboxes:
                tree_env["PODNET_BENCH_NO_CONTAINERS"] = "nosandbox"
            trees = [Tree("this tree", None, **tree_env)]
            if args.baseline is not None:
                trees.append(Tree("baseline", args.baseline.resolve(), **tree_env))
            for i in range(args.scale_runs):
                # alternate which tree goes first, so a trend in the load favours neither
                for j, tree in enumerate(trees if i % 2 == 0 else trees[::-1]):
                    run_dir = tmp / f"scale{i}-{j}"
                    run_dir.mkdir()
                    res = bench_scale(
                        args.replicas,
                        args.nodes,
                        args.patches,
                        args.gets,
                        run_dir,
                        args.py_spy,
                        tree,
                        args.py_spy_watch,
                    )
                    print(json.dumps({"scale": res}), flush=True)
    print(json.dumps({"loadavg_after": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
