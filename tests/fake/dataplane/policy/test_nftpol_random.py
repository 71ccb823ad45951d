"""Randomised differential test, fast: the policy engine against the compiled nft tables.

200 seeded clusters from support.random_cluster (the e2e random test's generator, every
one here with the cluster admin's layers: up to 3 Admin-tier policies and a Baseline one,
both API versions, mixed with 1-4 NetworkPolicies), on 1-3 nodes. For every ordered pair
of distinct pods and every port the destination serves, the engine's verdict
(:meth:`PolicyEngine.of_state`) must equal the packet tracer's walk (support.nft_trace)
through the ``inet podnet-policy`` table of the source's node and of the destination's
node, to the pod IP. Two independent implementations of one semantics; a disagreement
prints the seed (``generate(seed, ips, tiers=True)`` rebuilds the cluster).
"""

from __future__ import annotations

import random

import pytest
from support.nft_trace import Packet, passes, view_of
from support.random_cluster import generate

from podnet.control.cluster import build_cluster
from podnet.control.policy.engine import PolicyEngine
from podnet.control.served import served_ports_by_pod
from podnet.dataplane.policy.compile import compile_policies
from podnet.errors import Location
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState

SEEDS = range(5000, 5200)
_LOC = Location("random", 1)


def _cluster(seed: int) -> ClusterState:
    nodes = random.Random(-seed).randint(1, 3)
    first = build_cluster(from_documents([(d, _LOC) for d in generate(seed)]), nodes)
    ips = sorted(p.ip for p in first.pods if p.ip and p.namespace != "kube-system")
    docs = generate(seed, ips, tiers=True)
    return build_cluster(from_documents([(d, _LOC) for d in docs]), nodes)


def disagreements(state: ClusterState) -> list[str]:
    """Pairs where the engine and the compiled tables differ (empty: they agree)."""
    engine = PolicyEngine.of_state(state)
    tables = {n.name: view_of(compile_policies(state, n.name)) for n in state.nodes}
    pods = [p for p in state.pods if p.ip and p.node and p.namespace != "kube-system"]
    served = served_ports_by_pod(pods, state.services)
    wrong = []
    for src in pods:
        for dst in pods:
            if src.key == dst.key:
                continue
            assert src.ip and dst.ip and src.node and dst.node
            for port, proto in served[dst.key]:
                want = engine.verdict(src, dst, port, proto).allowed
                pkt = Packet(src.ip, dst.ip, proto, port)
                got = all(passes(tables[h], pkt) for h in {src.node, dst.node})
                if got != want:
                    wrong.append(f"{src.key}->{dst.key} {port}/{proto}: engine {want}, nft {got}")
    return wrong


def test_generator_mixes_all_three_layers() -> None:
    kinds = {p.kind for s in SEEDS[:40] for p in _cluster(s).cluster_policies}
    assert kinds == {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"}


@pytest.mark.parametrize("chunk", range(0, len(SEEDS), 50))
def test_engine_agrees_with_compiled_tables(chunk: int) -> None:
    bad = {}
    for seed in SEEDS[chunk : chunk + 50]:
        wrong = disagreements(_cluster(seed))
        if wrong:
            bad[seed] = wrong[:5]
    assert not bad, f"{len(bad)} clusters disagree (seed: pairs): {bad}"
