"""Randomised differential test: the live cluster's behaviour equals the engine's matrix.

A seeded generator makes small clusters - 2-3 namespaces, 3-6 pods with labels from
a small vocabulary, 1-2 served ports (TCP/UDP, agnhost serve-hostname per port, one
Service per pod), 1-4 NetworkPolicies mixing pod/namespace selectors, matchExpressions,
ipBlocks, numbered/named/range/protocol-only ports, ingress and egress - and each is
run for real with :func:`podnet.live.probe.runner.probe_cluster`: every probed connection
must agree with :func:`~podnet.analyze.matrix.compute_matrix` (the policy engine),
judged on kernel behaviour (nftables compiled from the same policy objects by an
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
from typing import Any

import pytest
import yaml

from podnet.errors import Location

COUNT = int(os.environ.get("PODNET_PROBE_RANDOM", "200"))
PARALLEL = int(os.environ.get("PODNET_PROBE_PARALLEL", "3"))
FIRST_SEED = int(os.environ.get("PODNET_PROBE_SEED", "1000"))
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"
PORTS = [(80, "TCP"), (81, "TCP"), (53, "UDP"), (80, "UDP")]
VALUES = ["a", "b", "c"]
Doc = dict[str, Any]


def _labels(r: random.Random, keys: list[str]) -> dict[str, str]:
    return {k: r.choice(VALUES) for k in keys if r.random() < 0.6}


def _selector(r: random.Random, keys: list[str]) -> Doc:
    roll = r.random()
    if roll < 0.25:
        return {}
    if roll < 0.8:
        return {"matchLabels": {k: r.choice(VALUES) for k in r.sample(keys, 1)}}
    op = r.choice(["In", "NotIn", "Exists", "DoesNotExist"])
    expr: Doc = {"key": r.choice(keys), "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = r.sample(VALUES, r.randint(1, 2))
    return {"matchExpressions": [expr]}


def _peer(r: random.Random, ips: list[str]) -> Doc:
    roll = r.random()
    if roll < 0.35:
        return {"podSelector": _selector(r, ["app", "tier"])}
    if roll < 0.6:
        return {"namespaceSelector": _selector(r, ["team"])}
    if roll < 0.85:
        return {
            "podSelector": _selector(r, ["app", "tier"]),
            "namespaceSelector": _selector(r, ["team"]),
        }
    if r.random() < 0.5:
        return {"ipBlock": {"cidr": f"{r.choice(ips)}/32"}}
    return {"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"{r.choice(ips)}/32"]}}


def _ports(r: random.Random, served: list[tuple[int, str]]) -> list[Doc]:
    out: list[Doc] = []
    for _ in range(r.randint(1, 2)):
        port, proto = r.choice(served)
        roll = r.random()
        if roll < 0.4:
            out.append({"protocol": proto, "port": port})
        elif roll < 0.6:
            out.append({"protocol": proto, "port": f"p{port}-{proto.lower()}"})
        elif roll < 0.8:
            out.append({"protocol": proto})
        else:
            out.append({"protocol": proto, "port": 79, "endPort": 81})
    return out


def _rules(r: random.Random, ips: list[str], served: list[tuple[int, str]], way: str) -> list[Doc]:
    rules = []
    for _ in range(r.randint(0, 2)):
        rule: Doc = {}
        if r.random() < 0.8:
            rule["from" if way == "ingress" else "to"] = [
                _peer(r, ips) for _ in range(r.randint(1, 2))
            ]
        if r.random() < 0.5:
            rule["ports"] = _ports(r, served)
        rules.append(rule)
    return rules


def generate(seed: int, ips: list[str] | None = None) -> list[Doc]:
    """The manifests of cluster ``seed``; ``ips`` (pod IPs) feed the ipBlocks."""
    r = random.Random(seed)
    namespaces = ["x", "y", "z"][: r.randint(2, 3)]
    served = r.sample(PORTS, r.randint(1, 2))
    docs: list[Doc] = []
    for ns in namespaces:
        labels = {"team": r.choice(VALUES)} if r.random() < 0.7 else {}
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        )
    for i in range(r.randint(3, 6)):
        ns, name = r.choice(namespaces), f"p{i}"
        containers = [
            {
                "name": f"c{port}-{proto.lower()}",
                "image": AGNHOST,
                "args": [
                    "serve-hostname",
                    f"--{proto.lower()}",
                    "--http=false",
                    "--port",
                    str(port),
                ],
                "ports": [
                    {"containerPort": port, "protocol": proto, "name": f"p{port}-{proto.lower()}"}
                ],
            }
            for port, proto in served
        ]
        labels = {"pod": name, **_labels(r, ["app", "tier"])}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"containers": containers},
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"s-{name}", "namespace": ns},
                "spec": {
                    "selector": {"pod": name},
                    "ports": [
                        {
                            "name": f"s{port}-{proto.lower()}",
                            "port": 1000 + port,
                            "targetPort": f"p{port}-{proto.lower()}",
                            "protocol": proto,
                        }
                        for port, proto in served
                    ],
                },
            }
        )
    pool = ips or ["10.244.0.2"]
    for j in range(r.randint(1, 4)):
        types = r.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec: Doc = {"podSelector": _selector(r, ["app", "tier"]), "policyTypes": types}
        if "Ingress" in types:
            spec["ingress"] = _rules(r, pool, served, "ingress")
        if "Egress" in types:
            spec["egress"] = _rules(r, pool, served, "egress")
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"np{j}", "namespace": r.choice(namespaces)},
                "spec": spec,
            }
        )
    return docs


def settings(seed: int) -> tuple[int, str, str]:
    """(nodes, via, deny) for cluster ``seed``."""
    r = random.Random(-seed)
    return r.randint(1, 3), r.choice(["pod", "service"]), "drop" if r.random() < 0.15 else "reject"


def run_one(seed: int, dump: Path | None = None) -> Doc:
    from podnet.control.cluster import build_cluster
    from podnet.live.probe.result import disagreements
    from podnet.live.probe.runner import probe_cluster
    from podnet.manifests import from_documents

    nodes, via, deny = settings(seed)
    loc = Location(f"seed-{seed}", 1)
    first = build_cluster(from_documents([(d, loc) for d in generate(seed)]), nodes)
    ips = sorted(p.ip for p in first.pods if p.ip and p.namespace != "kube-system")
    docs = generate(seed, ips)
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
        (dump / f"seed-{seed}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    t0 = time.monotonic()
    report = probe_cluster(
        from_documents([(d, loc) for d in docs]),
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
