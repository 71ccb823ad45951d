"""``podnet probe`` on every upstream policy truth table, for real.

Each case (../shared/conformance/netpol-e2e, tests/conformance/cases and
tests/conformance/network-policy-api, format in the first one's README.md) becomes a
manifest file - the runner's own
``case_documents`` with ``cidr_of(...)`` substituted by the IPs ``build_cluster``
assigns for that node count (deterministic) - and ``python -m podnet probe -o json``
runs on it with 1 and 3 nodes, ``--via pod`` and ``--via service`` (only ``--via pod``
for a ``via: pod`` case: network-policy-api's conformance pokes pod IPs and builds no
Services). Every expected connection of the case must be observed as the table says
(SCTP reported ``unsupported`` by a kernel without SCTP is not judged), and the command
must exit 0 (every probed connection, on every port the pods serve, agrees with the engine).

Each probe is its own process (a process enters one sandbox only); the runs of the
whole module are started from one fixture, ``PARALLEL`` at a time, and the
parametrised tests only read their result.

Node placement: the three cases with ``cidr_of`` ipBlocks (042, 900, 901) are the
ones tests/fake/dataplane/policy/test_nftpol_conformance.py skips on several nodes. They run here
on 3 nodes too, and pass: their blocks are one pod's /32 or a /4 around the whole pod
network, and ``cidr_of`` is substituted with the IPs ``build_cluster`` assigns for
*that* node count, so no expectation depends on pods sharing a node's /24. A case
written with, say, ``cidr_of(x/a)/24`` would cover one node's pods only; it would
need a 1-node run (skip it on 3 nodes with a reason), not a different verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from support.paths import REPO, SHARED_CASES, conformance_cases
from support.sandbox import kernel_skip_reason

from podnet.analyze.conformance import build_case_cluster, case_documents, load_case

SHARED = SHARED_CASES
CASES = conformance_cases()
VIAS = {p: ("pod",) if load_case(p).via == "pod" else ("pod", "service") for p in CASES}
RUNS = [(p, n, v) for p in CASES for n in (1, 3) for v in VIAS[p]]
PARALLEL = int(os.environ.get("PODNET_PROBE_PARALLEL", "3"))
ROOT = REPO

Run = tuple[Path, int, str]


def write_case(case_path: Path, nodes: int, out: Path) -> Path:
    """The case as one multi-document manifest file for ``nodes`` nodes."""
    case = load_case(case_path)
    state = build_case_cluster(case, nodes)
    ips = {p.key: p.ip for p in state.pods if p.ip is not None}
    docs = [doc for doc, _ in case_documents(case, ips)]
    target = out / f"{case_path.stem}-{nodes}n.yaml"
    target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return target


def probe(manifest: Path, nodes: int, via: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "podnet",
            "probe",
            "-f",
            str(manifest),
            "-o",
            "json",
            "--nodes",
            str(nodes),
            "--via",
            via,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        data = {}
    return proc.returncode, data, proc.stderr


@pytest.fixture(scope="module")
def results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[Run, Any]]:
    """Every run the session selected (``-k`` picks a few), ``PARALLEL`` at a time."""
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    chosen: list[Run] = []
    for item in request.session.items:
        if isinstance(item, pytest.Function) and item.module is request.module:
            run = item.callspec.params.get("run") if hasattr(item, "callspec") else None
            if run is not None:
                chosen.append(cast(Run, run))
    tmp = tmp_path_factory.mktemp("probe-cases")
    files = {(p, n): write_case(p, n, tmp) for p, n in {(p, n) for p, n, _ in chosen}}

    def one(run: Run) -> tuple[int, dict[str, Any], str]:
        path, nodes, via = run
        return probe(files[(path, nodes)], nodes, via)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        yield dict(zip(chosen, pool.map(one, chosen), strict=True))


@pytest.mark.parametrize("run", RUNS, ids=[f"{p.stem}-{n}node-via-{v}" for p, n, v in RUNS])
def test_probe_agrees_with_the_table(results: dict[Run, Any], run: Run) -> None:
    code, data, stderr = results[run]
    assert data, f"no JSON from podnet probe (exit {code}):\n{stderr}"
    case = load_case(run[0])
    seen = {(c["from"], c["to"], c["port"], c["protocol"]): c for c in data["connections"]}
    wrong = []
    for e in case.expectations():
        c = seen.get((e.src, e.dst, e.port, e.protocol))
        if c is not None and c["result"] == "unsupported" and e.protocol == "SCTP":
            continue
        if c is None or c["allowed"] != e.allowed:
            wrong.append((e.src, e.dst, e.port, e.protocol, c and c["result"], c and c["detail"]))
    assert not wrong, f"{len(wrong)} pairs differ from the table: {wrong[:10]}\n{stderr}"
    bad = [
        c
        for c in data["connections"]
        if c["result"] in ("allowed", "denied") and c["allowed"] != c["predicted"]
    ]
    assert code == 0 and not bad, f"exit {code}; disagreements with the engine: {bad[:5]}"
    if run[2] == "service":
        assert data["summary"]["no service"] == 0
