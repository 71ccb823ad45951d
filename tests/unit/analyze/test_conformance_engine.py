"""Every upstream NetworkPolicy e2e truth table must hold for the policy engine.

Each file in ../shared/conformance/netpol-e2e (format: that directory's README.md)
is built into a cluster with the real manifest loader and control plane, then every
probe's 72 ordered pod pairs are judged through the destination's Service.
Set PODNET_CONFORMANCE_DIR to run another directory of cases in the same format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.paths import SHARED_CASES, conformance_cases

from podnet.analyze.conformance import (
    build_case_cluster,
    case_documents,
    check_case,
    load_case,
    probe_outcomes,
    summarize,
)
from podnet.errors import ManifestError

SHARED = SHARED_CASES
CASES = conformance_cases(extra_dirs_env="PODNET_CONFORMANCE_DIR")


def test_shared_cases_are_there() -> None:
    """The shared truth tables must be found, or every case above would silently vanish."""
    assert len(list(SHARED.glob("*.yaml"))) >= 20, f"no conformance cases in {SHARED}"


@pytest.mark.parametrize("nodes", [1, 3])
@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_case(path: Path, nodes: int) -> None:
    """Upstream runs on several nodes; the verdicts must not depend on placement."""
    case = load_case(path)
    failures = check_case(case, nodes)
    assert not failures, f"{len(failures)} pairs disagree:\n" + summarize(failures[:20])


@pytest.mark.skipif(not (SHARED / "042-egress-ipblock-host.yaml").exists(), reason="no case")
def test_cidr_placeholder_is_substituted() -> None:
    case = load_case(SHARED / "042-egress-ipblock-host.yaml")
    state = build_case_cluster(case)
    yb = state.pod("y/b")
    assert yb is not None and yb.ip is not None
    docs = case_documents(case, {p.key: p.ip for p in state.pods if p.ip})
    texts = repr([d for d, _ in docs if d["kind"] == "NetworkPolicy"])
    assert f"{yb.ip}/32" in texts and "cidr_of" not in texts
    # without IPs, policies with placeholders are left out (first pass)
    assert all(d["kind"] != "NetworkPolicy" for d, _ in case_documents(case))


def test_every_probe_covers_72_pairs() -> None:
    case = load_case(SHARED / "001-default-deny-ingress.yaml")
    outcomes = probe_outcomes(case, build_case_cluster(case))
    assert len(outcomes) == 72 * len(case.probes)


def test_malformed_case_is_a_manifest_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncluster: {pods: {}}\n")
    with pytest.raises(ManifestError):
        load_case(bad)
    bad.write_text("cluster: [\n")
    with pytest.raises(ManifestError):
        load_case(bad)
