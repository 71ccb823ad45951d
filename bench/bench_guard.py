"""Benchmark the anti-spoofing guard's cost on pod add and remove (issue 11): run as root.

    sudo .venv/bin/python bench/bench_guard.py [--rounds 3] [--pods 30] [--background 50]

A one-node :class:`LiveCluster` (the ``podnet run``/``up`` core) with ``--background``
pods placed, then ``--pods`` pods added one at a time (``add_pod``: IP, sandbox,
veth, then the paced sync applied to the node's nft tables, waited for) and removed
one at a time (``remove_pod`` then ``wait_synced``). Once with the guard table
(``ClusterSync.guard_pods``, the default) and once without, alternating for
``--rounds`` rounds in this one process, so load drift hits both alike. No
containers are started: the cost measured is the network's. Also the guard's own
transaction alone: ``GuardProxy.sync`` of one more pod over the node's ``nft -i``.

Prints Markdown for bench/README.md. Only the real numbers of this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podnet.dataplane.guard.table import guard_state
from podnet.live.cluster import LiveCluster
from podnet.live.sync import ClusterSync
from podnet.manifests import load_paths
from podnet.model.objects import Container, Pod

MANIFEST = "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n"


def pod(name: str) -> Pod:
    return Pod("bench", name, {"app": name}, (Container("c", "busybox"),), node_name="node-0")


def one_round(guard: bool, pods: int, background: int, tmp: Path) -> dict[str, list[float]]:
    ClusterSync.guard_pods = guard
    path = tmp / "ns.yaml"
    path.write_text(MANIFEST)
    out: dict[str, list[float]] = {"add": [], "remove": [], "guard-tx": []}
    with LiveCluster(load_paths([str(path)])) as cluster:
        cluster.start()
        cluster.add_pods([pod(f"bg-{i}") for i in range(background)])
        for i in range(pods):
            t0 = time.perf_counter()
            cluster.add_pod(pod(f"p-{i}"))
            out["add"].append(time.perf_counter() - t0)
        for i in range(pods):
            t0 = time.perf_counter()
            cluster.remove_pod(f"bench/p-{i}", grace=0)
            assert cluster.wait_synced(10)
            out["remove"].append(time.perf_counter() - t0)
        if guard:  # the guard's own transaction over the node's session, one pod more
            assert cluster.sync is not None
            cluster.sync.stop()  # nothing else touches the table from here on
            guard_proxy = cluster.sync.tables["node-0"].guard
            assert guard_proxy is not None
            placed = [(p.key, p.ip) for p in cluster.desired().pods if p.ip is not None]
            base = guard_state(placed)
            guard_proxy.sync(base)
            for i in range(pods):
                extra = guard_state([*placed, (f"bench/x-{i}", f"10.244.0.{200 + i % 50}")])
                t0 = time.perf_counter()
                assert guard_proxy.sync(extra) == 1
                out["guard-tx"].append(time.perf_counter() - t0)
                guard_proxy.sync(base)
    return out


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.2f} / {max(xs) * 1000:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pods", type=int, default=30)
    ap.add_argument("--background", type=int, default=50)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    runs: dict[bool, list[dict[str, list[float]]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for guard in (True, False):
                runs[guard].append(one_round(guard, args.pods, args.background, Path(tmp)))
    print(
        f"`bench_guard.py --rounds {args.rounds} --pods {args.pods} --background "
        f"{args.background}`, {platform.node()}, load {os.getloadavg()[0]:.1f}; "
        "median / max ms per pod, one row per round, guard and no guard alternating"
    )
    print()
    print("| round | add, guard | add, no guard | remove, guard | remove, no guard |")
    print("|---|---|---|---|---|")
    for i in range(args.rounds):
        g, n = runs[True][i], runs[False][i]
        print(
            f"| {i + 1} | {ms(g['add'])} | {ms(n['add'])} | {ms(g['remove'])} | {ms(n['remove'])} |"
        )
    allg = [x for r in runs[True] for x in r["add"]]
    alln = [x for r in runs[False] for x in r["add"]]
    remg = [x for r in runs[True] for x in r["remove"]]
    remn = [x for r in runs[False] for x in r["remove"]]
    print(f"| all | {ms(allg)} | {ms(alln)} | {ms(remg)} | {ms(remn)} |")
    tx = [x for r in runs[True] for x in r["guard-tx"]]
    print()
    print(f"The guard's own transaction (one element added over `nft -i`): {ms(tx)} ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
