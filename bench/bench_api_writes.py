"""Benchmark: what the API server's frequent writes cost, in-process (issue 9).

Creates (500 Pods, 200 Deployments), status writes (``pods/status`` PUT of the whole
pod, PUT of the body podnet's kubelet sends, and a merge PATCH, over 500 Running pods)
and Events (a ReplicaSet's 1,000 SuccessfulCreate, the kubelet's Scheduled/Pulled/
Created/Started for 250 pods, one pod's 100 BackOff), each measured in a fresh
interpreter as CPU µs per call (``time.thread_time``) and as the number of Event
objects stored. ``--baseline DIR`` (a copy of an older tree, e.g.
``git archive <commit> podnet | tar -x -C DIR``) runs the same measurements on that
tree, alternating with this one, so both see the same machine load.

    .venv/bin/python bench/bench_api_writes.py [--runs 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PODS = 500


def child() -> dict[str, float]:
    """Runs in the tree named by PODNET_TREE (first on sys.path)."""
    sys.path.insert(0, os.environ["PODNET_TREE"])
    from podnet.apiserver import events
    from podnet.apiserver.registry import Registry
    from podnet.apiserver.resources import by_kind
    from podnet.apiserver.store.memory import MemoryStore

    assert events.__file__.startswith(os.environ["PODNET_TREE"]), events.__file__
    from bench_store import pod_template  # (puts this tree on sys.path: imported after)

    pod_res, ns_res = by_kind("", "Pod"), by_kind("", "Namespace")
    assert pod_res is not None and ns_res is not None
    clock = [1_700_000_000.0]
    reg = Registry(MemoryStore(), clock=lambda: clock[0])
    reg.create(ns_res, None, {"metadata": {"name": "ns-0"}})
    template = pod_template()
    status = template.pop("status")
    pods: list[dict[str, Any]] = []
    out: dict[str, float] = {}

    def cpu_us(calls: list[Any], fn: Any) -> float:
        t0 = time.thread_time()
        for c in calls:
            fn(c)
        return (time.thread_time() - t0) / len(calls) * 1e6

    bodies = []
    for i in range(PODS):
        body = copy.deepcopy(template)
        body["metadata"] = {"name": f"web-{i:04d}", "namespace": "ns-0", "labels": {"app": "w"}}
        bodies.append(body)
    out["pod_create_us"] = cpu_us(bodies, lambda b: pods.append(reg.create(pod_res, "ns-0", b)))
    dep_res = by_kind("apps", "Deployment")
    assert dep_res is not None
    deployments = [
        {
            "metadata": {"name": f"d-{i:04d}"},
            "spec": {
                "selector": {"matchLabels": {"app": f"d{i}"}},
                "template": {
                    "metadata": {"labels": {"app": f"d{i}"}},
                    "spec": copy.deepcopy(template["spec"]),
                },
            },
        }
        for i in range(200)
    ]
    out["deployment_create_us"] = cpu_us(deployments, lambda d: reg.create(dep_res, "ns-0", d))

    def put_bodies(second: int) -> list[dict[str, Any]]:
        bodies = []
        for p in pods:
            cur = copy.deepcopy(reg.get(pod_res, "ns-0", p["metadata"]["name"]))
            st = copy.deepcopy(status)
            st["conditions"][1]["lastTransitionTime"] = f"2026-01-01T00:00:{second:02d}Z"
            cur["status"] = st
            bodies.append(cur)
        return bodies

    def put(b: dict[str, Any]) -> None:
        reg.update(pod_res, "ns-0", b["metadata"]["name"], b, subresource="status")

    for b in put_bodies(1):  # each pod's first status
        put(b)
    out["status_put_us"] = cpu_us(put_bodies(2), put)
    from podnet.live.kubelet_write import status_body

    # what the tree's kubelet sends (its status_body)
    small = [status_body(b, b["status"]) for b in put_bodies(3)]
    out["status_put_small_us"] = cpu_us(small, put)
    patches = [
        (p["metadata"]["name"], json.dumps({"status": {"message": f"m{i}"}}))
        for i, p in enumerate(pods)
    ]
    out["status_patch_us"] = cpu_us(
        patches,
        lambda a: reg.patch(
            pod_res, "ns-0", a[0], "application/merge-patch+json", a[1], subresource="status"
        ),
    )

    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-7d4b9c8f5d", "namespace": "ns-0", "uid": "rs-uid"},
    }
    ev_res = by_kind("", "Event")
    assert ev_res is not None

    def stored() -> int:
        return len(reg.list(ev_res, "ns-0").items)

    def record(args: tuple[Any, ...]) -> None:
        clock[0] += 0.01
        events.record_event(reg, *args)

    created = [
        (rs, "Normal", "SuccessfulCreate", f"Created pod: web-7d4b9c8f5d-{i:05d}", "rs")
        for i in range(1000)
    ]
    out["rs_event_us"] = cpu_us(created, record)
    out["rs_events_stored"] = stored()
    before = stored()
    kubelet = [
        (p, "Normal", reason, f"{reason} {p['metadata']['name']}", "kubelet")
        for p in pods[:250]
        for reason in ("Scheduled", "Pulled", "Created", "Started")
    ]
    out["kubelet_event_us"] = cpu_us(kubelet, record)
    out["kubelet_events_stored"] = stored() - before
    before = stored()
    backoff = [(pods[0], "Warning", "BackOff", "Back-off restarting failed container", "kubelet")]
    out["backoff_event_us"] = cpu_us(backoff * 100, record)
    out["backoff_events_stored"] = stored() - before
    counts = [e.get("count", 1) for e in reg.list(ev_res, "ns-0").items]
    out["max_count"] = max(counts)
    return out


def run_tree(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PODNET_TREE": str(tree)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child"], env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"{tree}: {proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child()))
        return
    trees = {"this tree": ROOT}
    if args.baseline:
        trees["baseline"] = args.baseline
    results: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for _ in range(args.runs):
        for label, tree in trees.items():
            results[label].append(run_tree(tree))
    print(f"load average {os.getloadavg()[0]:.1f}; runs {args.runs}; median (min-max)")
    for key in results["this tree"][0]:
        row = [key]
        for label in trees:
            vals = [r[key] for r in results[label]]
            row.append(f"{label}: {statistics.median(vals):.1f} ({min(vals):.1f}-{max(vals):.1f})")
        print(" | ".join(row))


if __name__ == "__main__":
    main()
