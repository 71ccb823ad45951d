"""Randomised differential test: the live cluster's behaviour equals the engine's matrix.

A seeded generator (support.random_cluster) makes small clusters - 2-3 namespaces, 3-6
pods, 1-2 served ports, 1-4 NetworkPolicies, and in three clusters of four up to 3
Admin-tier policies and a Baseline one (AdminNetworkPolicy / BaselineAdminNetworkPolicy
v1alpha1 or ClusterNetworkPolicy v1alpha2) - and each is run for real with
:func:`podnet.live.probe.runner.probe_cluster`: every probed connection must agree
with :func:`~podnet.analyze.matrix.compute_matrix` (the policy engine), judged on
kernel behaviour (nftables compiled from the same policy objects by an
independent implementation, real sockets).

Each driver process (this file run as a script) brings clusters up one after another
(a sandbox may be entered again once the previous one is closed), ``PARALLEL`` drivers
at once. Node count (1-3), ``--via`` (pod/service) and ``--deny`` vary with the seed;
``reject`` is most common because a dropped probe costs the full 1 s timeout.
``PODNET_PROBE_RANDOM`` sets the number of clusters (CI default below); a
disagreement prints the seed, and ``python tests/e2e/test_probe_random.py --seeds
S:S+1 --dump DIR`` writes that cluster's manifests to reproduce it with ``podnet probe``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support.paths import PYTHONPATH
from support.random_cluster import Doc, generate

from podnet.errors import Location

COUNT = int(os.environ.get("PODNET_PROBE_RANDOM", "200"))
PARALLEL = int(os.environ.get("PODNET_PROBE_PARALLEL", "3"))
FIRST_SEED = int(os.environ.get("PODNET_PROBE_SEED", "1000"))


def settings(seed: int) -> tuple[int, str, str]:
    """(nodes, via, deny) for cluster ``seed``."""
    r = random.Random(-seed)
    return r.randint(1, 3), r.choice(["pod", "service"]), "drop" if r.random() < 0.15 else "reject"


def with_tiers(seed: int) -> bool:
    """Three clusters of four mix in the cluster admin's policies."""
    return seed % 4 != 0


def run_one(seed: int, dump: Path | None = None) -> Doc:
    from podnet.control.cluster import build_cluster
    from podnet.live.probe.result import disagreements
    from podnet.live.probe.runner import probe_cluster
    from podnet.manifests import from_documents

    nodes, via, deny = settings(seed)
    loc = Location(f"seed-{seed}", 1)
    first = build_cluster(from_documents([(d, loc) for d in generate(seed)]), nodes)
    ips = sorted(p.ip for p in first.pods if p.ip and p.namespace != "kube-system")
    docs = generate(seed, ips, tiers=with_tiers(seed))
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
        (dump / f"seed-{seed}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    t0 = time.monotonic()
    documents = [(d, loc) for d in docs]
    report = probe_cluster(
        from_documents(documents),
        documents=documents,
        nodes=nodes,
        via=via,
        deny=deny,
        choose=lambda s: [p for p in s.pods if p.namespace != "kube-system"],
    )
    wrong = disagreements(report.observations)
    return {
        "seed": seed,
        "nodes": nodes,
        "via": via,
        "deny": deny,
        "tiers": with_tiers(seed),
        "probes": len(report.observations),
        "not_ready": list(report.not_ready),
        "wrong": [
            f"{o.planned.src}->{o.planned.dst} {o.planned.port}/{o.planned.protocol} "
            f"observed {o.result} ({o.detail}) predicted {o.predicted}"
            for o in wrong
        ],
        "seconds": round(time.monotonic() - t0, 3),
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", required=True, help="FIRST:END")
    ap.add_argument("--dump", type=Path)
    args = ap.parse_args()
    first, end = (int(x) for x in args.seeds.split(":"))
    for seed in range(first, end):
        try:
            row = run_one(seed, args.dump)
        except Exception as e:  # report and go on: one bad cluster must not hide the rest
            row = {"seed": seed, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(row), flush=True)
    return 0


def test_probe_matches_engine_on_random_clusters() -> None:
    from support.sandbox import kernel_skip_reason

    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    per = -(-COUNT // PARALLEL)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--seeds",
                f"{FIRST_SEED + k * per}:{FIRST_SEED + min(COUNT, (k + 1) * per)}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": PYTHONPATH},  # support.* for the generator
            text=True,
        )
        for k in range(PARALLEL)
    ]
    rows = []
    for proc in procs:
        out, _ = proc.communicate(timeout=1800)
        rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == COUNT, f"{COUNT - len(rows)} clusters produced no result"
    errors = [r for r in rows if "error" in r]
    wrong = [r for r in rows if r.get("wrong")]
    assert not errors, errors[:5]
    assert not wrong, json.dumps(wrong[:3], indent=1)
    assert sum(r["probes"] for r in rows) > COUNT  # something was probed


if __name__ == "__main__":
    raise SystemExit(main())
