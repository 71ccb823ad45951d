"""The upstream policy truth tables, judged by the compiled nftables tables.

Each case in ../shared/conformance/netpol-e2e, tests/conformance/cases and
tests/conformance/network-policy-api is built with the real loader and control plane
on one node and on two (so pairs cross nodes; not for cases whose ipBlocks assume one
node's /24), each node's ``inet podnet-policy`` table is compiled, and every expected
connection is traced (support.nft_trace) on the address and port the packet carries in
the forward hook: the destination Service's endpoint after the proxy's DNAT
(``via: service``), or the pod IP (``via: pod``, as network-policy-api's conformance
connects). This checks the compiler itself against upstream, independently of the engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.nft_trace import Packet, passes, view_of
from support.paths import SHARED_CASES, case_id, conformance_cases

from podnet.analyze.conformance import build_case_cluster, load_case
from podnet.dataplane.policy.compile import compile_policies
from podnet.model.cluster import ClusterState

SHARED = SHARED_CASES
CASES = conformance_cases()


def _endpoint(state: ClusterState, dst: str, port: int, protocol: str) -> tuple[str, int]:
    """Where the packet to ``dst``'s Service on ``port`` is headed after DNAT."""
    ns, name = dst.split("/")
    svc = state.service(f"{ns}/s-{ns}-{name}")
    assert svc is not None
    sp = next(p for p in svc.ports if p.port == port and p.protocol == protocol)
    (ep,) = state.endpoints[svc.key][sp.name]
    return ep.ip, ep.port


@pytest.mark.parametrize("nodes", [1, 2])
@pytest.mark.parametrize("path", CASES, ids=[case_id(p) for p in CASES])
def test_case_through_compiled_tables(path: Path, nodes: int) -> None:
    if nodes > 1 and "cidr_of(" in path.read_text():
        pytest.skip("expectations written for all pods in one node's /24")
    case = load_case(path)
    state = build_case_cluster(case, nodes=nodes)
    tables = {n.name: view_of(compile_policies(state, n.name)) for n in state.nodes}
    node_of = {p.ip: p.node for p in state.pods if p.ip and p.node}
    wrong = []
    for e in case.expectations():
        src_pod, dst_pod = state.pod(e.src), state.pod(e.dst)
        assert src_pod is not None and src_pod.ip is not None
        assert dst_pod is not None and dst_pod.ip is not None
        if case.via == "pod":
            ip, port = dst_pod.ip, e.port
        else:
            ip, port = _endpoint(state, e.dst, e.port, e.protocol)
        pkt = Packet(src_pod.ip, ip, e.protocol, port)
        hops = {node_of[src_pod.ip], node_of[ip]}
        got = all(passes(tables[h], pkt) for h in hops)
        if got != e.allowed:
            wrong.append((e.src, e.dst, e.port, e.protocol, got))
    assert not wrong, f"{len(wrong)} pairs disagree: {wrong[:10]}"
