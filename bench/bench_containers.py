"""Benchmark container start under crun against plain processes, side by side.

    sudo .venv/bin/python bench/bench_containers.py [--runs 3] [--seq 20] [--pods 50]

Each run starts one cluster per mode (``PODNET_RUNTIME=process`` and the default crun
path), alternating so drift hits both alike:

* per container: ``--seq`` pods already in the sandbox, each with one busybox
  container ``sh -c 'exit 0'``; their containers are started one at a time and the
  time from ``start_pod`` to Terminated is taken (the spawn, crun's set-up, the
  program's exec and exit, the runtime noticing it; the end taken in the runtime's
  status callback). Median per mode; the overhead of crun is the difference of the
  medians.
* parallel: ``--pods`` pods, the containers of all of them started at once, until
  every one is Terminated; and the whole thing from an empty cluster (pod sandboxes
  and wiring included).
* seed: ``podnet run -f examples/seed/pod-to-service.yaml`` through the real CLI, from
  Popen to pod-a's first output line, median of ``--runs`` per mode.

Everything runs inside the cluster's namespaces, which die with each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_live import SEED, _kill, _popen, _read_until  # noqa: E402

from podnet.dataplane.runtime.state import TERMINATED, PodStatus  # noqa: E402
from podnet.live.cluster import RUNTIME_ENV, LiveCluster  # noqa: E402
from podnet.manifests.files import load_paths  # noqa: E402

MODES = ("process", "oci")


def _manifest(n: int, prefix: str) -> str:
    return "".join(
        f"""---
apiVersion: v1
kind: Pod
metadata: {{name: {prefix}{i}}}
spec:
  restartPolicy: Never
  containers: [{{name: c, image: busybox, command: [sh, -c, 'exit 0']}}]
"""
        for i in range(n)
    )


@contextmanager
def _mode(mode: str) -> Iterator[None]:
    old = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = mode
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = old


def _terminated(cluster: LiveCluster, key: str) -> bool:
    assert cluster.runtime is not None
    st = cluster.runtime.status(key).containers
    return bool(st) and st[0].state == TERMINATED


def _wait(cluster: LiveCluster, keys: list[str], timeout: float = 60.0) -> None:
    assert cluster.runtime is not None
    if not cluster.runtime.run_until(lambda: all(_terminated(cluster, k) for k in keys), timeout):
        raise RuntimeError(f"containers not done within {timeout}s")


def per_container(mode: str, n: int, tmp: Path) -> list[float]:
    """Seconds from start_pod to Terminated, one container at a time. The end is taken
    in the runtime's own status callback (its loop thread): waiting from here polls
    every 10 ms, which would hide the difference being measured."""
    path = tmp / f"seq-{mode}.yaml"
    path.write_text(_manifest(n, "s"))
    out = []
    ended: dict[str, float] = {}

    def on_status(st: PodStatus) -> None:
        if st.containers and st.containers[0].state == TERMINATED:
            ended.setdefault(st.key, time.perf_counter())

    with _mode(mode), LiveCluster(load_paths([str(path)])) as cluster:
        state = cluster.start()
        cluster.on_status = on_status
        for pod in state.pods:
            if pod.namespace != "default":
                continue
            t0 = time.perf_counter()
            cluster.start_pods([pod])
            _wait(cluster, [pod.key])
            out.append(ended[pod.key] - t0)
    return out


def parallel(mode: str, n: int, tmp: Path) -> tuple[float, float]:
    """(containers of n pods at once, the same from an empty cluster) in seconds."""
    path = tmp / f"par-{mode}.yaml"
    path.write_text(_manifest(n, "p"))
    ended: dict[str, float] = {}

    def on_status(st: PodStatus) -> None:
        if st.containers and st.containers[0].state == TERMINATED:
            ended.setdefault(st.key, time.perf_counter())

    with _mode(mode), LiveCluster(load_paths([str(path)])) as cluster:
        cluster.on_status = on_status
        t0 = time.perf_counter()
        state = cluster.start()
        pods = [p for p in state.pods if p.namespace == "default"]
        t1 = time.perf_counter()
        cluster.start_pods(pods)
        _wait(cluster, [p.key for p in pods])
        t2 = max(ended[p.key] for p in pods)
    return t2 - t1, t2 - t0


def seed(mode: str) -> float:
    """Seconds from Popen of `podnet run` to pod-a's first output line."""
    with _mode(mode):
        t0 = time.monotonic()
        proc = _popen("run", "-f", str(SEED))
        try:
            seen, _ = _read_until(proc, b"[default/pod-a]", 30)
        finally:
            _kill(proc)
    return seen - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seq", type=int, default=20)
    ap.add_argument("--pods", type=int, default=50)
    args = ap.parse_args()
    seq: dict[str, list[float]] = {m: [] for m in MODES}
    par: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
    seeds: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for _ in range(args.runs):
            for mode in MODES:
                seq[mode] += per_container(mode, args.seq, tmp)
                par[mode].append(parallel(mode, args.pods, tmp))
                seeds[mode].append(seed(mode))
    print(f"load average {os.getloadavg()[0]:.2f}, {args.runs} runs, modes interleaved")
    med = {m: statistics.median(seq[m]) * 1000 for m in MODES}
    for m in MODES:
        q = sorted(seq[m])
        print(
            f"{m:8} per container: median {med[m]:.1f} ms (p10 {q[len(q) // 10] * 1000:.1f},"
            f" p90 {q[len(q) * 9 // 10] * 1000:.1f}, n={len(q)})"
        )
    print(
        f"crun overhead per container (difference of medians): {med['oci'] - med['process']:.1f} ms"
    )
    for m in MODES:
        cont = statistics.median(p[0] for p in par[m])
        full = statistics.median(p[1] for p in par[m])
        print(
            f"{m:8} {args.pods} pods in parallel: containers {cont * 1000:.0f} ms,"
            f" with sandboxes {full * 1000:.0f} ms (median)"
        )
    for m in MODES:
        print(
            f"{m:8} seed: first pod-a line after {statistics.median(seeds[m]) * 1000:.0f} ms"
            f" (median of {len(seeds[m])})"
        )


if __name__ == "__main__":
    main()
