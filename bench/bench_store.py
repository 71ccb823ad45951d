"""Benchmark: the API's object store (podnet/apiserver/store), memory and SQLite.

What a write costs (create and update of a pod-sized object, ~2 KB of JSON, as the API
server would store it), how long a list of one namespace's 1,000 pods takes out of
10,000, how long a watcher waits for a write from another thread, how long a SQLite
store takes to open with 10,000 objects (a ``podnet up`` restart), and how the process's
resident memory grows per 10,000 stored pods (each backend measured in a fresh
interpreter, so the figures do not include the other's garbage).

    .venv/bin/python bench/bench_store.py [--runs 3] [--write]

``--write`` replaces the "store" section of bench/README.md. SQLite files go to a
temporary directory (on the same file system as /tmp).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podnet.apiserver.store.memory import MemoryStore
from podnet.apiserver.store.sqlite import SQLiteStore

NAMESPACES = 10


def pod_template() -> dict[str, Any]:
    """A Pod as a Deployment's ReplicaSet creates it and the kubelet reports it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d4b9c8f5d-x2x9q",
            "generateName": "web-7d4b9c8f5d-",
            "namespace": "ns-0",
            "uid": "0b6f1c2e-6d1a-4c56-9c43-2f0d7c1f9a11",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c8f5d", "tier": "frontend"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-7d4b9c8f5d",
                    "uid": "4a3c9d7e-1b2f-4e8a-9c6d-5f7e8a9b0c1d",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                    "env": [{"name": "MODE", "value": "production"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                        "periodSeconds": 10,
                        "timeoutSeconds": 1,
                        "successThreshold": 1,
                        "failureThreshold": 3,
                    },
                    "volumeMounts": [
                        {
                            "name": "kube-api-access-abcde",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        }
                    ],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "volumes": [{"name": "kube-api-access-abcde", "projected": {"defaultMode": 420}}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": "node-3",
            "schedulerName": "default-scheduler",
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:01Z"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "10.0.0.3",
            "podIP": "10.244.3.17",
            "podIPs": [{"ip": "10.244.3.17"}],
            "startTime": "2026-01-01T00:00:00Z",
            "qosClass": "Burstable",
            "containerStatuses": [
                {
                    "name": "web",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": "nginx:1.27",
                    "imageID": "podnet://nginx:1.27",
                    "containerID": "podnet://3f9a1c2b4d5e6f708192a3b4c5d6e7f8",
                    "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}},
                    "lastState": {},
                }
            ],
        },
    }


TEMPLATE = json.dumps(pod_template())


def pods(n: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` distinct fresh pod dicts (the store owns what it is given) and their keys."""
    out = []
    for i in range(n):
        obj = json.loads(TEMPLATE)
        ns, name = f"ns-{i % NAMESPACES}", f"web-{i:06d}"
        obj["metadata"]["name"], obj["metadata"]["namespace"] = name, ns
        out.append((f"core/pods/{ns}/{name}", obj))
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def write_costs(make: Callable[[], MemoryStore], n: int) -> dict[str, float]:
    """µs per create and per update (each with expect_rv, as the registry writes)."""
    created = pods(n)
    updated = pods(n)
    store = make()
    try:

        def creates() -> None:
            for key, obj in created:
                store.create(key, obj)

        def updates() -> None:
            for key, obj in updated:
                cur = store.get(key)
                assert cur is not None
                store.update(key, obj, expect_rv=int(cur["metadata"]["resourceVersion"]))

        c, u = timed(creates), timed(updates)
    finally:
        store.close()
    return {"create_us": c / n * 1e6, "update_us": u / n * 1e6}


def list_cost(store: MemoryStore, runs: int = 200) -> dict[str, float]:
    one = [timed(lambda: store.list("core/pods/ns-3/")) for _ in range(runs)]
    every = [timed(lambda: store.list("core/pods/")) for _ in range(max(runs // 10, 5))]
    assert len(store.list("core/pods/ns-3/")[0]) == len(store) // NAMESPACES
    return {
        "list_ns_ms": statistics.median(one) * 1e3,
        "list_all_ms": statistics.median(every) * 1e3,
    }


def watch_latency(store: MemoryStore, n: int = 2000) -> dict[str, float]:
    """Write (in this thread) to get() returning in a watcher thread, per event."""
    w = store.watch("core/pods/", store.current_rv())
    sent: dict[int, float] = {}
    got: list[float] = []

    def consume() -> None:
        for _ in range(n):
            ev = w.get(timeout=10)
            assert ev is not None
            got.append(time.perf_counter() - sent[ev.rv])

    t = threading.Thread(target=consume)
    t.start()
    for key, obj in pods(n):
        key = key.replace("core/pods/", "core/pods/lat-")
        sent[store.current_rv() + 1] = time.perf_counter()
        store.create(key, obj)
        time.sleep(0.0002)  # a paced writer, as a controller is; not a burst
    t.join()
    w.close()
    got.sort()
    return {
        "watch_p50_us": got[len(got) // 2] * 1e6,
        "watch_p99_us": got[int(len(got) * 0.99)] * 1e6,
    }


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def rss_child(mode: str, path: Path, n: int) -> dict[str, float]:
    """In a fresh interpreter: RSS growth from storing ``n`` pods (``memory``,
    ``sqlite``: written to ``path``) or from opening ``path`` (``reopen``: a restart)."""
    objs = pods(n)
    r: dict[str, float] = {
        "json_bytes": sum(len(json.dumps(o, separators=(",", ":"))) for _, o in objs) / n
    }
    del objs
    gc.collect()
    base = rss_kib()
    if mode == "reopen":
        t0 = time.perf_counter()
        store: MemoryStore = SQLiteStore(path)
        r["open_ms"] = (time.perf_counter() - t0) * 1e3
        assert len(store) == n
    else:
        store = MemoryStore() if mode == "memory" else SQLiteStore(path)
        for key, obj in pods(n):
            store.create(key, obj)
    gc.collect()
    r["rss_kib"] = rss_kib() - base
    store.close()
    if mode == "sqlite":
        r["file_kib"] = sum(p.stat().st_size for p in path.parent.iterdir()) / 1024
    return r


def measure(runs: int) -> dict[str, Any]:
    res: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))

        def mk(backend: str) -> Callable[[], MemoryStore]:
            if backend == "memory":
                return MemoryStore
            return lambda: SQLiteStore(Path(tmp) / f"b{next(counter)}.sqlite")

        for backend in ("memory", "sqlite"):
            for n in (1_000, 10_000):
                rs = [write_costs(mk(backend), n) for _ in range(runs)]
                res[f"{backend}/{n}"] = {
                    k: statistics.median(r[k] for r in rs) for k in ("create_us", "update_us")
                }
            store = mk(backend)()
            try:
                for key, obj in pods(10_000):
                    store.create(key, obj)
                res[f"{backend}/list"] = list_cost(store)
                res[f"{backend}/watch"] = watch_latency(store)
            finally:
                store.close()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rss.sqlite"
        for mode in ("memory", "sqlite", "reopen"):
            out = subprocess.run(
                [sys.executable, __file__, "--rss-child", mode, str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            res[f"{mode}/rss"] = json.loads(out)
    return res


def render(r: dict[str, Any], cmd: str, runs: int) -> str:
    m, s = "memory", "sqlite"

    def per_s(us: float) -> str:
        return f"{1e6 / us:,.0f}/s"

    lines = [
        "<!-- store:begin -->",
        "## API object store (bench/bench_store.py, issue 9)",
        "",
        f"Command: `{cmd}`. Machine: nproc {os.cpu_count()}, Python {platform.python_version()},"
        f" SQLite {__import__('sqlite3').sqlite_version}; median of {runs} runs for the write"
        " costs. Objects are a Running Deployment pod as the API serves it"
        f" ({r[f'{m}/rss']['json_bytes']:,.0f} bytes of compact JSON); each update is a"
        " get + compare-and-swap update, as the registry writes.",
        "",
        "| measurement | memory | sqlite (WAL, synchronous=NORMAL) |",
        "|---|---|---|",
    ]
    for n in (1_000, 10_000):
        a, b = r[f"{m}/{n}"], r[f"{s}/{n}"]
        lines.append(
            f"| create, {n:,} pods into an empty store: µs per write (writes/s) "
            f"| {a['create_us']:.1f} ({per_s(a['create_us'])}) "
            f"| {b['create_us']:.1f} ({per_s(b['create_us'])}) |"
        )
        lines.append(
            f"| update each of {n:,} pods: µs per get + write (writes/s) "
            f"| {a['update_us']:.1f} ({per_s(a['update_us'])}) "
            f"| {b['update_us']:.1f} ({per_s(b['update_us'])}) |"
        )
    a, b = r[f"{m}/list"], r[f"{s}/list"]
    lines += [
        f"| list one namespace: 1,000 of 10,000 pods (median) | {a['list_ns_ms']:.3f} ms "
        f"| {b['list_ns_ms']:.3f} ms |",
        f"| list all 10,000 pods (median) | {a['list_all_ms']:.2f} ms "
        f"| {b['list_all_ms']:.2f} ms |",
    ]
    a, b = r[f"{m}/watch"], r[f"{s}/watch"]
    lines.append(
        "| write to a watcher thread's get(), 2,000 paced creates: p50 / p99 "
        f"| {a['watch_p50_us']:.0f} / {a['watch_p99_us']:.0f} µs "
        f"| {b['watch_p50_us']:.0f} / {b['watch_p99_us']:.0f} µs |"
    )
    a, b = r[f"{m}/rss"], r[f"{s}/rss"]
    lines.append(
        "| RSS growth per 10,000 stored pods (fresh process) "
        f"| {a['rss_kib'] / 1024:.1f} MiB ({a['rss_kib'] * 1024 / 10_000:,.0f} B/pod) "
        f"| {b['rss_kib'] / 1024:.1f} MiB ({b['rss_kib'] * 1024 / 10_000:,.0f} B/pod) |"
    )
    c = r["reopen/rss"]
    lines += [
        "| the same after a restart: RSS growth from opening the file (keys and short"
        f" strings shared while loading) | - | {c['rss_kib'] / 1024:.1f} MiB"
        f" ({c['rss_kib'] * 1024 / 10_000:,.0f} B/pod) |",
        f"| open a SQLite store of 10,000 pods (load into memory) | - | {c['open_ms']:.0f} ms |",
        f"| SQLite file (+ WAL) with 10,000 pods | - | {b['file_kib'] / 1024:.1f} MiB |",
        "<!-- store:end -->",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    readme = Path(__file__).resolve().parent / "README.md"
    old = readme.read_text()
    begin, end = "<!-- store:begin -->", "<!-- store:end -->\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    readme.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        mode, path = args.rss_child
        print(json.dumps(rss_child(mode, Path(path), 10_000)))
        return
    r = measure(args.runs)
    cmd = f".venv/bin/python bench/bench_store.py --runs {args.runs}" + (
        " --write" if args.write else ""
    )
    text = render(r, cmd, args.runs)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
