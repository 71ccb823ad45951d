"""examples/cluster-policies: the matrix its README shows, in both API versions."""

from __future__ import annotations

import pytest
from support.paths import REPO

from podnet.analyze.matrix import compute_matrix
from podnet.control.cluster import build_cluster
from podnet.manifests.files import load_paths

EXAMPLE = REPO / "examples" / "cluster-policies"
ALLOWED = {
    ("monitoring/prom", "tenant-a/web"),  # Admin Pass, then the tenant's NetworkPolicy
    ("tenant-a/api", "monitoring/prom"),
    ("tenant-a/web", "monitoring/prom"),
    ("tenant-b/web", "monitoring/prom"),
}


@pytest.mark.parametrize("policies", ["admin-policies.yaml", "v1alpha2"])
def test_matrix_is_the_one_the_readme_shows(policies: str) -> None:
    manifests = load_paths([str(EXAMPLE / "app.yaml"), str(EXAMPLE / policies)])
    assert len(manifests.cluster_policies) == 3
    state = build_cluster(manifests)
    user = [p for p in state.pods if p.namespace != "kube-system"]
    conns = list(compute_matrix(state, user).connections())
    assert len(conns) == 12
    allowed = {
        (f"{c.src.namespace}/{c.src.name}", f"{c.dst.namespace}/{c.dst.name}")
        for c in conns
        if c.allowed
    }
    assert allowed == ALLOWED
