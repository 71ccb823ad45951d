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
# CI runs the first (all upstream tables and podnet's own via pod, about 2-3 min on 2
# cores); the other two take about 30 min together (80 network-policy-api cases at ~18 s
# each), more than CI's budget for this tier: PODNET_PROBE_ALL=1 runs them (the kernel
# tier covers each kind with a subset, tests/kernel/up/test_up_probe_cluster.py).
# The first once failed in CI with an empty stdout: ``podnet up``'s stderr was a pipe
# nobody read after its ready line; past 64 KiB of log (a controller's traceback per
# namespace deleted) its namespace controller blocked on the write, the case
# namespaces never went, and probe's teardown error lost the whole report. up's output
# is drained now (support.kube.Drain) and probe prints its report on every failure.
FULL_ONLY = {"netpol-e2e-via-service", "network-policy-api"}
# The rate limit protects a real cluster's API server; against this up the run is
# bound by CPU (a process per probe), not by the API, and 20 execs/s would be the floor.
QPS = "50"


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
        pytest.skip("about half an hour with the other: PODNET_PROBE_ALL=1 runs it")
    argv = [*podnet_argv(), "probe", "--cluster", "--kubeconfig", str(up.kubeconfig)]
    argv += [a for d in dirs for a in ("--cases", str(d))]
    argv += ["--via", via, "--qps", QPS, "-o", "json"]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=3600, env=podnet_env(), cwd="/"
    )
    up_log = up.stderr.text()[-3000:] if up.stderr else ""
    assert proc.stdout.strip(), (proc.returncode, proc.stderr[-3000:], up_log)
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
