"""examples/cluster-policies through ``podnet probe``: nginx pods, the tiered nft tables,
no disagreement with the engine, as the example's README says."""

from __future__ import annotations

import json

import pytest
from support.live import require_live, run_cli
from support.paths import REPO

EXAMPLE = REPO / "examples" / "cluster-policies"


@pytest.mark.parametrize(("policies", "nodes"), [("admin-policies.yaml", "1"), ("v1alpha2", "2")])
def test_probe_of_the_example_agrees(policies: str, nodes: str) -> None:
    require_live()
    result = run_cli(
        "probe",
        "-f",
        str(EXAMPLE / "app.yaml"),
        "-f",
        str(EXAMPLE / policies),
        "--nodes",
        nodes,
        "-o",
        "json",
    )
    assert result.rc == 0, result.err
    report = json.loads(result.out)
    allowed = sorted((c["from"], c["to"]) for c in report["connections"] if c["allowed"])
    assert allowed == [
        ("monitoring/prom", "tenant-a/web"),
        ("tenant-a/api", "monitoring/prom"),
        ("tenant-a/web", "monitoring/prom"),
        ("tenant-b/web", "monitoring/prom"),
    ]
    assert all(c["allowed"] == c["predicted"] for c in report["connections"]), report
