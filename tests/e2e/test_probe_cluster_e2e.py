"""``podnet probe --cluster`` on every policy truth table against a real ``podnet up``
(issue 13: "probe --cluster in conformance mode passes all shared cases").

The kernel tier runs a representative subset (tests/kernel/up/test_up_probe_cluster.py);
this runs all of them: ../shared's upstream NetworkPolicy tables and podnet's own cases
via pod and via Service, and the network-policy-api tables (AdminNetworkPolicy,
BaselineAdminNetworkPolicy, ClusterNetworkPolicy; ``via: pod`` as upstream) via pod.
Every case must agree with podnet's engine and with its table (SCTP a kernel without the
module reports as ``unsupported`` is not judged), and nothing may be left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.kube import UpCluster, podnet_up
from support.live import podnet_argv, podnet_env, require_live
from support.paths import CASES, NPAPI_CASES, SHARED_CASES

from podnet.analyze.conformance_case import load_case

RUNS = [
    ("netpol-e2e-via-pod", [SHARED_CASES, CASES], "pod"),
    ("netpol-e2e-via-service", [SHARED_CASES, CASES], "service"),
    ("network-policy-api", [NPAPI_CASES], "pod"),
]
# Opt-in (PODNET_PROBE_ALL=1): the first run takes about 3 min, the other two about 30
# min together on 2 cores (80 network-policy-api cases at ~18 s each); the kernel tier
# (tests/kernel/up/test_up_probe_cluster.py) covers each kind with a subset in CI. The
# first run also failed once in a CI run with an empty stdout (its stderr was not kept
# then; it is now) and passed on its own: opt-in until that is understood.
FULL_ONLY = {"netpol-e2e-via-pod", "netpol-e2e-via-service", "network-policy-api"}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    if not SHARED_CASES.is_dir():
        pytest.skip(f"{SHARED_CASES} missing")
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "3") as cluster:
        yield cluster


@pytest.mark.parametrize(("name", "dirs", "via"), RUNS, ids=[r[0] for r in RUNS])
def test_every_table_agrees(up: UpCluster, name: str, dirs: list[Path], via: str) -> None:
    if name in FULL_ONLY and os.environ.get("PODNET_PROBE_ALL") != "1":
        pytest.skip("minutes to half an hour: PODNET_PROBE_ALL=1 runs it")
    argv = [*podnet_argv(), "probe", "--cluster", "--kubeconfig", str(up.kubeconfig)]
    argv += [a for d in dirs for a in ("--cases", str(d))] + ["--via", via, "-o", "json"]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=3600, env=podnet_env(), cwd="/"
    )
    assert proc.stdout.strip(), (proc.returncode, proc.stderr[-3000:])
    data = json.loads(proc.stdout)
    bad: list[object] = []
    for run in data["cases"]:
        if "error" in run or run["summary"]["disagreements"]:
            bad.append((run["case"], run.get("error"), run.get("summary")))
            continue
        seen = {(c["from"], c["to"], c["port"], c["protocol"]): c for c in run["connections"]}
        for e in load_case(run["path"]).expectations():
            c = seen.get((e.src, e.dst, e.port, e.protocol))
            if c is not None and c["result"] == "unsupported" and e.protocol == "SCTP":
                continue
            if c is None or c["allowed"] != e.allowed:
                bad.append((run["case"], e))
    assert not bad, bad[:10]
    assert proc.returncode == 0, proc.stderr[-3000:]
    k = up.kubectl("1.37")
    left = k.json("get", "namespaces", "-l", "app.kubernetes.io/managed-by=podnet-probe")
    assert left["items"] == []
