"""Benchmark: ``kubectl get pods`` of 1,000 pods, server time (issue 9 target: < 100 ms).

An in-process API server (HTTPS on 127.0.0.1, a Registry over the memory store) holding
1,000 Running pods as a Deployment and the kubelet leave them (10 nodes). Server time is
the handler's, from routing to the response body encoded (``Handlers.handle`` wrapped
here, in the benchmark only: the registry list, the Table conversion, JSON encoding);
the client time is a kept-alive HTTPS round trip from this process, and kubectl's own
(``-v=6`` prints each request's round trip) when ``--kubectl`` names a binary.

    .venv/bin/python bench/bench_api_list.py [--runs 20] [--kubectl .tools/bin/kubectl-1.37]
"""

from __future__ import annotations

import argparse
import copy
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_store import pod_template

from podnet.apiserver import auth, certs, kubeconfig
from podnet.apiserver.http import handlers
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.apiserver.store.memory import MemoryStore

PODS = 1000
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
server_ms: list[float] = []
server_cpu_ms: list[float] = []


def timed_handle() -> None:
    """Record each request's handler time, wall and process CPU (the client thread
    waits meanwhile), benchmark only."""
    inner = handlers.Handlers.handle

    async def handle(self: Any, request: Any, target: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return await inner(self, request, target)
        finally:
            server_ms.append((time.perf_counter() - t0) * 1e3)
            server_cpu_ms.append((time.process_time() - c0) * 1e3)

    handlers.Handlers.handle = handle  # type: ignore[method-assign]


def fill(registry: Registry) -> None:
    pod_res, ns_res = by_kind("", "Pod"), by_kind("", "Namespace")
    assert pod_res is not None and ns_res is not None
    registry.create(ns_res, None, {"metadata": {"name": "bench"}})
    template = pod_template()
    status = template.pop("status")
    for i in range(PODS):
        body = copy.deepcopy(template)
        body["metadata"] = {
            "name": f"web-7d4b9c8f5d-{i:05d}",
            "namespace": "bench",
            "labels": template["metadata"]["labels"],
            "ownerReferences": template["metadata"]["ownerReferences"],
        }
        body["spec"]["nodeName"] = f"node-{i % 10}"
        pod = registry.create(pod_res, "bench", body)
        st = copy.deepcopy(status)
        st["podIP"] = f"10.244.{i % 10}.{i // 10 + 2}"
        st["podIPs"] = [{"ip": st["podIP"]}]
        st["hostIP"] = f"10.0.0.{i % 10 + 2}"
        registry.update(
            pod_res, "bench", pod["metadata"]["name"], {**pod, "status": st}, subresource="status"
        )


def measure(
    conn: http.client.HTTPSConnection, token: str, path: str, accept: str, runs: int
) -> tuple[list[float], list[float], list[float], int]:
    client: list[float] = []
    server_ms.clear()
    server_cpu_ms.clear()
    size = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Accept": accept, "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        client.append((time.perf_counter() - t0) * 1e3)
        assert resp.status == 200, body[:200]
        size = len(body)
    return list(server_ms), list(server_cpu_ms), client, size


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ms ({min(values):.1f}-{max(values):.1f})"


def kubectl_times(binary: str, config: Path, runs: int) -> list[float]:
    """The round trips kubectl prints at -v=6 for its two pages of pods (to the
    response's headers, round_trippers.go)."""
    out: list[float] = []
    pat = re.compile(
        r'url="https://\S+/namespaces/bench/pods\?\S*" status="200 OK" milliseconds=(\d+)'
    )
    for _ in range(runs):
        proc = subprocess.run(
            [binary, "--kubeconfig", str(config), "-n", "bench", "get", "pods", "-v=6"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert proc.stdout.count("\n") == PODS + 1, proc.stdout[:200]
        out += [float(m) for m in pat.findall(proc.stderr)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--kubectl")
    args = ap.parse_args()
    timed_handle()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        tls = certs.ensure(data)
        token = auth.ensure_token(data)
        registry = Registry(MemoryStore())
        t0 = time.perf_counter()
        fill(registry)
        fill_s = time.perf_counter() - t0
        server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
        port = server.start()
        try:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port, context=tls.client_context(), timeout=30
            )
            base = "/api/v1/namespaces/bench/pods"
            cases: list[tuple[str, str, str]] = [
                ("Table, all 1,000", base, TABLE),
                ("Table, limit=500 (kubectl's first page)", base + "?limit=500", TABLE),
                ("JSON, all 1,000", base, "application/json"),
            ]
            measure(conn, token, base, TABLE, 3)  # warm-up
            print(
                f"load average {os.getloadavg()[0]:.1f}; {PODS} pods filled in {fill_s:.1f} s; "
                f"{args.runs} requests each; median (min-max)"
            )
            for label, path, accept in cases:
                srv, cpu, cli, size = measure(conn, token, path, accept, args.runs)
                print(
                    f"{label}: server {fmt(srv)}, CPU {fmt(cpu)}; client {fmt(cli)};"
                    f" {size / 1024:.0f} KiB"
                )
            conn.close()
            if args.kubectl:
                config = Path(tmp) / "kubeconfig"
                kubeconfig.install("bench", f"https://127.0.0.1:{port}", tls, token, config)
                server_ms.clear()
                server_cpu_ms.clear()
                times = kubectl_times(args.kubectl, config, max(3, args.runs // 4))
                print(
                    f"kubectl get pods (two pages of 500): kubectl's round trips {fmt(times)};"
                    f" server {fmt(server_ms)}, CPU {fmt(server_cpu_ms)} over"
                    f" its {len(server_ms)} list requests"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
