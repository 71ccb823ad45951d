"""Benchmark ``--from-cluster``: read and analyse N pods through ``podnet up``'s API.

    sudo .venv/bin/python bench/bench_from_cluster.py [--replicas 1000] [--nodes 10] [--runs 3]

``podnet up --nodes N`` (through tests/support/kube.py's ``podnet_up``), a Deployment
of busybox ``sleep 3600`` with ``--replicas`` replicas and a Service over it, created with
kubectl-1.37; once every pod is Running, each run times in one process: the read (every
list, paged by 500), the conversion into the model (:func:`podnet.kube.observed.to_state`)
and the connectivity matrix (:func:`compute_matrix`); and, end to end in a fresh
process, ``podnet analyze --from-cluster -o json`` (Python start-up included), and as
the baseline the same objects from a file (``podnet analyze -f``), under the same load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.kube import eventually, podnet_up  # noqa: E402

from podnet.analyze.matrix import compute_matrix  # noqa: E402
from podnet.kube.client import Client  # noqa: E402
from podnet.kube.config import load_config  # noqa: E402
from podnet.kube.observed import to_state  # noqa: E402
from podnet.kube.read import read_cluster  # noqa: E402

MANY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: many, namespace: default, labels: {{app: many}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: many}}}}
  template:
    metadata: {{labels: {{app: many}}}}
    spec:
      containers: [{{name: busybox, image: busybox, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: many, namespace: default, labels: {{app: many}}}}
spec:
  selector: {{app: many}}
  ports: [{{port: 80, protocol: TCP, targetPort: 80}}]
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        podnet_up(Path(tmp), "--nodes", str(args.nodes)) as up,
    ):
        k = up.kubectl("1.37")
        k.ok(
            "create",
            "deployment",
            "many",
            "--image=busybox",
            f"--replicas={args.replicas}",
            "--",
            "sleep",
            "3600",
        )
        k.ok("expose", "deployment", "many", "--port=80")
        t0 = time.monotonic()

        def running() -> bool:
            pods = k.json("get", "pods", "-l", "app=many")["items"]
            done = sum(p["status"].get("phase") == "Running" for p in pods)
            return bool(done == args.replicas)

        eventually(running, 900, f"{args.replicas} pods Running")
        print(f"{args.replicas} pods Running after {time.monotonic() - t0:.1f} s")
        cfg = load_config(str(up.kubeconfig))
        files = Path(tmp) / "many.yaml"
        files.write_text(MANY.format(replicas=args.replicas))
        for run in range(args.runs):
            t0 = time.perf_counter()
            with Client(cfg) as client:
                snap = read_cluster(client)
                requests = client.requests
            t1 = time.perf_counter()
            observed = to_state(snap)
            t2 = time.perf_counter()
            pods = [p for p in observed.state.pods if p.namespace != "kube-system"]
            matrix = compute_matrix(observed.state, pods)
            t3 = time.perf_counter()
            print(
                f"run {run}: {len(snap.pods)} pods, {requests} requests: read {t1 - t0:.2f} s, "
                f"model {t2 - t1:.2f} s, matrix {t3 - t2:.2f} s ({len(matrix.classes)} classes),"
                f" total {t3 - t0:.2f} s"
            )
            env = {**os.environ, "KUBECONFIG": str(up.kubeconfig)}
            t0 = time.perf_counter()
            done = subprocess.run(
                [str(REPO / ".venv/bin/podnet"), "analyze", "--from-cluster", "-o", "json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=600,
                check=False,
            )
            print(
                f"run {run}: podnet analyze --from-cluster -o json (exit {done.returncode}):"
                f" {time.perf_counter() - t0:.2f} s end to end {done.stderr[-300:]}"
            )
            t0 = time.perf_counter()
            done = subprocess.run(
                [
                    str(REPO / ".venv/bin/podnet"),
                    "analyze",
                    "-f",
                    str(files),
                    "--nodes",
                    str(args.nodes),
                    "-o",
                    "json",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=600,
                check=False,
            )
            print(
                f"run {run}: baseline, the same objects from a file: podnet analyze -f -o json"
                f" (exit {done.returncode}): {time.perf_counter() - t0:.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
