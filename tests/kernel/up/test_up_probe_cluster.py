"""``podnet probe --cluster`` against a real ``podnet up`` (issue 13): conformance mode on a
representative subset of the truth tables (the full set: tests/e2e/test_probe_cluster_e2e.py),
a NetworkPolicy deleted mid-run reported as a disagreement, cleanup after Ctrl-C and
SIGTERM, and a namespace that is not podnet's left alone.

Every run is the real CLI in a subprocess, speaking to up's API with the kubeconfig up
wrote; kubectl 1.37 checks what is left in the cluster afterwards."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.kube import Kubectl, UpCluster, podnet_up
from support.live import podnet_argv, podnet_env, require_live, wait_for_line
from support.paths import CASES, NPAPI_CASES, SHARED_CASES

from podnet.analyze.conformance_case import load_case

pytestmark = pytest.mark.kernel

# One of each kind of table: default deny, a namespaceSelector on the name label, named
# ports, an ipBlock around a pod IP (cidr_of), UDP, egress with DNS, endPort; an
# AdminNetworkPolicy (v1alpha1) priority case and a ClusterNetworkPolicy (v1alpha2) one.
SUBSET = [
    SHARED_CASES / "001-default-deny-ingress.yaml",
    SHARED_CASES / "006-namespaceselector-y.yaml",
    SHARED_CASES / "018-ingress-named-port.yaml",
    SHARED_CASES / "042-egress-ipblock-host.yaml",
    SHARED_CASES / "052-udp-default-deny-ingress.yaml",
    SHARED_CASES / "058-legacy-default-deny-all-allow-dns.yaml",
    CASES / "903-endport-range.yaml",
    NPAPI_CASES / "v1alpha1-anp-priority-1.yaml",
    NPAPI_CASES / "cnp-admin-ingress-tcp-1.yaml",
]
DENY_CASE = SHARED_CASES / "001-default-deny-ingress.yaml"
PROBE_NAMESPACES = ("x", "y", "z")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    for case in SUBSET:
        if not case.exists():
            pytest.skip(f"{case} missing (../shared not beside the repository?)")
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "2") as cluster:
        yield cluster


def _probe(up: UpCluster, *args: str) -> subprocess.Popen[str]:
    argv = [*podnet_argv(), "probe", "--cluster", "--kubeconfig", str(up.kubeconfig), *args]
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=podnet_env(),
        cwd="/",
    )


def _finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"podnet probe --cluster did not finish in {timeout}s:\n{err[-3000:]}")
    return proc.returncode, out, err


def _left(k: Kubectl) -> list[str]:
    """Anything podnet's probe created that is still in the cluster."""
    names = [n["metadata"]["name"] for n in k.json("get", "namespaces")["items"]]
    left = [f"namespace/{n}" for n in names if n in PROBE_NAMESPACES or n.startswith("network-")]
    sel = "app.kubernetes.io/managed-by=podnet-probe"
    for kind in ("namespaces", "adminnetworkpolicies", "clusternetworkpolicies"):
        items = k.json("get", kind, "-l", sel)["items"]
        left += [f"{kind}/{i['metadata']['name']}" for i in items]
    return sorted(set(left))


def _table_misses(case_path: Path, run: dict[str, Any]) -> list[Any]:
    """Expectations of the table the observation contradicts (SCTP a kernel lacks: skipped)."""
    case = load_case(case_path)
    seen = {(c["from"], c["to"], c["port"], c["protocol"]): c for c in run["connections"]}
    misses = []
    for e in case.expectations():
        c = seen.get((e.src, e.dst, e.port, e.protocol))
        if c is not None and c["result"] == "unsupported" and e.protocol == "SCTP":
            continue
        if c is None or c["allowed"] != e.allowed:
            misses.append((e.src, e.dst, e.port, e.protocol, c and c["result"]))
    return misses


def test_conformance_subset_agrees_with_tables_and_engine(up: UpCluster) -> None:
    cases = [a for c in SUBSET for a in ("--cases", str(c))]
    rc, out, err = _finish(_probe(up, *cases, "-o", "json"), 900)
    data = json.loads(out)
    assert data["summary"]["cases"] == len(SUBSET), err[-2000:]
    for run in data["cases"]:
        assert "error" not in run, run["error"]
        assert run["summary"].get("error", 0) == 0 and run["summary"]["disagreements"] == 0, (
            run["case"],
            [c for c in run["connections"] if c["allowed"] != c["predicted"]][:5],
        )
        assert not _table_misses(Path(run["path"]), run), run["case"]
    assert rc == 0, err[-2000:]
    assert _left(up.kubectl("1.37")) == []


def test_deleted_networkpolicy_mid_run_is_a_disagreement(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    proc = _probe(up, "--cases", str(DENY_CASE), "--settle", "5s", "-o", "json")
    wait_for_line(proc.stderr, "probing", 240)
    k.ok("delete", "networkpolicy", "deny-ingress", "-n", "x")
    rc, out, err = _finish(proc, 300)
    assert rc == 1, err
    (run,) = json.loads(out)["cases"]
    wrong = [(c["from"], c["to"]) for c in run["connections"] if c["allowed"] != c["predicted"]]
    # x/a, x/b, x/c were predicted isolated: every connection into them now succeeds
    into_x = sorted(
        (s, d)
        for s in (f"{n}/{p}" for n in "xyz" for p in "abc")
        for d in ("x/a", "x/b", "x/c")
        if s != d
    )
    assert sorted(wrong) == into_x
    assert run["notes"] == ["NetworkPolicy x/deny-ingress: deleted while probing"]
    assert _left(k) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopped_mid_run_cleans_up(up: UpCluster, sig: signal.Signals) -> None:
    k = up.kubectl("1.37")
    proc = _probe(up, "--cases", str(SHARED_CASES), "--settle", "3s")
    wait_for_line(proc.stderr, "probing", 240)
    assert (
        k.json("get", "namespace", "x")["metadata"]["labels"]["app.kubernetes.io/managed-by"]
        == "podnet-probe"
    )
    proc.send_signal(sig)
    rc, _, err = _finish(proc, 180)
    assert rc == 128 + sig, err
    assert f"{sig.name} received; cleaned up" in err
    assert _left(k) == []


def test_a_namespace_that_is_not_podnets_is_left_alone(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    k.ok("create", "namespace", "y")
    try:
        rc, _, err = _finish(_probe(up, "--cases", str(DENY_CASE)), 120)
        assert rc == 1
        assert "namespace y already exists and is not podnet's" in err
        names = [n["metadata"]["name"] for n in k.json("get", "namespaces")["items"]]
        assert "y" in names and "x" not in names and "z" not in names
    finally:
        k.ok("delete", "namespace", "y")
