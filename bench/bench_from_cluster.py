"""Benchmark ``--from-cluster``: read and analyse N pods through ``podnet up``'s API.

    sudo .venv/bin/python bench/bench_from_cluster.py [--replicas 1000] [--nodes 10] [--runs 3]
    .venv/bin/python bench/bench_from_cluster.py --fake-pods 5000 [--runs 3]

``--fake-pods N``: no ``podnet up``: a synthesized cluster of N Running pods (50 per
namespace in Deployments of 10, a Service per Deployment with its EndpointSlice, two
NetworkPolicies per namespace, 100 pods per node) served by a local HTTP server that
pages lists as kube-apiserver does (``limit``/``continue``); each run times ``podnet
analyze --from-cluster -o json`` end to end in a fresh process, and as the baseline
the same objects from a file (``podnet analyze -f``, podnet computing the IPs itself),
alternated in the same run.

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
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

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


PER_NS, PER_DEPLOY, PER_NODE = 50, 10, 100


def synthesize(n: int) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The API's objects (by list path) and the same objects as manifests."""
    api: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "/api/v1/namespaces",
            "/api/v1/pods",
            "/api/v1/services",
            "/apis/discovery.k8s.io/v1/endpointslices",
            "/apis/networking.k8s.io/v1/networkpolicies",
            "/api/v1/nodes",
        )
    }
    docs: list[dict[str, Any]] = []
    nodes = (n + PER_NODE - 1) // PER_NODE
    for i in range(nodes):
        api["/api/v1/nodes"].append(
            {
                "metadata": {
                    "name": f"node-{i}",
                    "labels": {"kubernetes.io/hostname": f"node-{i}"},
                },
                "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"]},
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": f"172.18.{i // 250}.{i % 250 + 2}"}
                    ]
                },
            }
        )
    for k in range(0, n, PER_NS):
        ns = f"team-{k // PER_NS:03d}"
        meta_ns = {"name": ns, "labels": {"kubernetes.io/metadata.name": ns, "team": ns}}
        api["/api/v1/namespaces"].append({"metadata": meta_ns})
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta_ns})
        for d in range(PER_NS // PER_DEPLOY):
            app = f"app-{d}"
            ep = []
            for r in range(PER_DEPLOY):
                idx = k + d * PER_DEPLOY + r
                if idx >= n:
                    break
                node = idx // PER_NODE
                ip = f"10.244.{node}.{idx % PER_NODE + 2}"
                name = f"{app}-5d8f7c9b4-{idx:05d}"
                spec = {
                    "containers": [
                        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}
                    ]
                }
                labels = {"app": app, "pod-template-hash": "5d8f7c9b4"}
                owner = [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{app}-5d8f7c9b4",
                        "uid": f"rs-{ns}-{d}",
                        "controller": True,
                    }
                ]
                api["/api/v1/pods"].append(
                    {
                        "metadata": {
                            "name": name,
                            "namespace": ns,
                            "labels": labels,
                            "ownerReferences": owner,
                        },
                        "spec": {**spec, "nodeName": f"node-{node}"},
                        "status": {
                            "phase": "Running",
                            "podIP": ip,
                            "podIPs": [{"ip": ip}],
                            "conditions": [{"type": "Ready", "status": "True"}],
                        },
                    }
                )
                docs.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": name, "namespace": ns, "labels": labels},
                        "spec": spec,
                    }
                )
                ep.append(
                    {
                        "addresses": [ip],
                        "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": name, "namespace": ns},
                        "nodeName": f"node-{node}",
                    }
                )
            svc_spec = {
                "selector": {"app": app},
                "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}],
            }
            svc_no = (k // PER_NS) * 10 + d
            api["/api/v1/services"].append(
                {
                    "metadata": {"name": app, "namespace": ns},
                    "spec": {
                        **svc_spec,
                        "clusterIP": f"10.96.{svc_no // 250}.{svc_no % 250 + 10}",
                        "type": "ClusterIP",
                    },
                }
            )
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": app, "namespace": ns},
                    "spec": svc_spec,
                }
            )
            api["/apis/discovery.k8s.io/v1/endpointslices"].append(
                {
                    "metadata": {
                        "name": f"{app}-abcde",
                        "namespace": ns,
                        "labels": {"kubernetes.io/service-name": app},
                    },
                    "addressType": "IPv4",
                    "endpoints": ep,
                    "ports": [{"port": 80, "protocol": "TCP", "name": ""}],
                }
            )
        for pol in (
            {
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            },
            {
                "metadata": {"name": "allow-app-0", "namespace": ns},
                "spec": {
                    "podSelector": {"matchLabels": {"app": "app-0"}},
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": {"matchLabels": {"team": ns}}}],
                            "ports": [{"port": 80}],
                        }
                    ],
                },
            },
        ):
            api["/apis/networking.k8s.io/v1/networkpolicies"].append(pol)
            docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **pol})
    return api, docs


def serve(lists: dict[str, list[dict[str, Any]]]) -> tuple[ThreadingHTTPServer, str]:
    """kube-apiserver's paging over ``lists``: ``limit``, ``continue`` = the next offset."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's name
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            items = lists.get(url.path)
            if items is None:
                body = json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"}).encode()
                self._send(404, body)
                return
            start, limit = int(q.get("continue") or 0), int(q.get("limit") or len(items) or 1)
            key = f"{url.path}?{start}:{limit}"
            if key not in bodies:
                page = items[start : start + limit]
                more = start + limit < len(items)
                meta = {
                    "resourceVersion": "1",
                    **({"continue": str(start + limit)} if more else {}),
                }
                bodies[key] = json.dumps(
                    {"kind": "List", "apiVersion": "v1", "metadata": meta, "items": page}
                ).encode()
            self._send(200, bodies[key])

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def fake_main(n: int, runs: int) -> int:
    api, docs = synthesize(n)
    nodes = len(api["/api/v1/nodes"])
    server, url = serve(api)
    print(
        f"synthesized: {len(api['/api/v1/pods'])} pods, {len(api['/api/v1/services'])} services, "
        f"{len(api['/apis/networking.k8s.io/v1/networkpolicies'])} policies, {nodes} nodes; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text(
            f"clusters: [{{name: f, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: f, context: {cluster: f, user: u}}]\ncurrent-context: f\n"
        )
        files = Path(tmp) / "many.yaml"
        files.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        podnet = str(REPO / ".venv/bin/podnet")
        # the table (its summary; no grid past GRID_MAX_PODS): -o json lists every
        # connection, 25 million for 5,000 pods, which times the JSON encoder
        cmds = {
            "from-cluster": [podnet, "analyze", "--from-cluster", "--kubeconfig", str(kubeconfig)],
            "from-file": [podnet, "analyze", "-f", str(files), "--nodes", str(nodes)],
        }
        cfg = load_config(str(kubeconfig))
        for run in range(runs):
            t0 = time.perf_counter()
            with Client(cfg) as client:
                snap = read_cluster(client)
                requests = client.requests
            t1 = time.perf_counter()
            observed = to_state(snap)
            t2 = time.perf_counter()
            matrix = compute_matrix(observed.state)
            t3 = time.perf_counter()
            print(
                f"run {run}: in-process: read {t1 - t0:.2f} s ({requests} requests), "
                f"model {t2 - t1:.2f} s, matrix {t3 - t2:.2f} s "
                f"({len(matrix.classes)} classes), total {t3 - t0:.2f} s",
                flush=True,
            )
            for what, argv in cmds.items():
                t0 = time.perf_counter()
                done = subprocess.run(
                    argv, capture_output=True, text=True, timeout=900, check=False
                )
                took = time.perf_counter() - t0
                print(
                    f"run {run}: podnet analyze {what}: exit {done.returncode}, "
                    f"{len(done.stdout.splitlines())} lines, {took:.2f} s end to end, "
                    f"load {os.getloadavg()[0]:.1f} {done.stderr[-200:].strip()}",
                    flush=True,
                )
    server.shutdown()
    server.server_close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fake-pods", type=int, default=0, help="a synthesized API, no podnet up")
    args = ap.parse_args()
    if args.fake_pods:
        return fake_main(args.fake_pods, args.runs)
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
