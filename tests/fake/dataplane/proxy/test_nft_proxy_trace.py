"""Packets traced through the Service proxy's table as the fake holds it.

The cluster is built by the real control plane (scheduling, IPs, endpoints with named
targetPorts resolved per pod), synced by :class:`ServiceProxy` into the behavioural
fake, and each connection's first packet is traced (support.nft_trace) to the
endpoints kube-proxy would pick: every ready endpoint of a ClusterIP, a reject when
there is none, NodePorts on local addresses, and ClientIP affinity.
"""

from __future__ import annotations

from dataclasses import replace

from support.ctl_builders import pod, svc
from support.nft_trace import Affinity, Flow, Outcome, View, fake_view, remember, trace_service

from podnet.control.cluster import build_cluster
from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.names import is_generated
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.proxy.rules import FAMILY, TABLE
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.model.cluster import ClusterState
from podnet.model.objects import ContainerPort, Manifests, ServicePort

CLIENT = "10.244.9.9"  # some pod on another node


def cluster(ready: dict[str, bool] | None = None) -> ClusterState:
    web = tuple(
        pod(f"web-{i}", {"app": "web"}, ports=(ContainerPort(8080 + i, name="http"),))
        for i in range(3)
    )
    return build_cluster(
        Manifests(
            pods=(*web, pod("db-0", {"app": "db"})),
            services=(
                svc("web", {"app": "web"}, (ServicePort(80, "http", name="http"),)),
                svc(
                    "np",
                    {"app": "web"},
                    (ServicePort(81, "http", name="h", node_port=30081),),
                    type="NodePort",
                ),
                svc("empty", {"app": "none"}, (ServicePort(82, 82, "UDP"),)),
                svc(
                    "sticky",
                    {"app": "web"},
                    (ServicePort(83, "http", name="http", node_port=30083),),
                    type="NodePort",
                    session_affinity="ClientIP",
                    session_affinity_timeout=60,
                ),
            ),
        ),
        ready=ready,
    )


def synced(state: ClusterState) -> View:
    fake = FakeNft()
    ServiceProxy(fake, freeze_gc=False).sync_cluster(state)
    return fake_view(fake, FAMILY, TABLE)


def ip(state: ClusterState, key: str) -> str:
    p = state.pod(key)
    assert p is not None and p.ip is not None
    return p.ip


def cluster_ip(state: ClusterState, name: str) -> str:
    s = state.service(f"default/{name}")
    assert s is not None and s.cluster_ip is not None
    return s.cluster_ip


def test_cluster_ip_reaches_each_ready_endpoint_on_its_named_target_port() -> None:
    st = cluster(ready={"default/web-1": False})
    got = trace_service(synced(st), Flow(CLIENT, cluster_ip(st, "web"), "tcp", 80))
    # targetPort "http" is 8080 on web-0 and 8082 on web-2; web-1 is not ready
    want = {(ip(st, "default/web-0"), 8080), (ip(st, "default/web-2"), 8082)}
    assert got == Outcome(frozenset(want))


def test_wrong_port_or_protocol_and_no_endpoints_are_rejected() -> None:
    st = cluster()
    v = synced(st)
    rejected = Outcome(frozenset(), rejected=True)
    assert trace_service(v, Flow(CLIENT, cluster_ip(st, "web"), "udp", 80)) == rejected
    assert trace_service(v, Flow(CLIENT, cluster_ip(st, "web"), "tcp", 9)) == rejected
    assert trace_service(v, Flow(CLIENT, cluster_ip(st, "empty"), "udp", 82)) == rejected
    assert trace_service(v, Flow(CLIENT, "10.244.0.77", "tcp", 80)) == Outcome(frozenset())


def test_nodeport_on_a_local_address_only_and_masqueraded() -> None:
    st = cluster()
    v = synced(st)
    webs = {(ip(st, f"default/web-{i}"), 8080 + i) for i in range(3)}
    node = Flow("192.168.1.5", "172.31.0.1", "tcp", 30081, local=True)
    assert trace_service(v, node) == Outcome(frozenset(webs), masquerade=frozenset(webs))
    not_local = Flow("192.168.1.5", "172.31.0.1", "tcp", 30081)
    assert trace_service(v, not_local) == Outcome(frozenset())
    unserved = Flow("192.168.1.5", "172.31.0.1", "tcp", 30099, local=True)
    assert trace_service(v, unserved) == Outcome(frozenset())
    # from the node itself (output hook) the same
    assert trace_service(v, node, hook="output").backends == webs


def test_hairpin_is_masqueraded() -> None:
    st = cluster()
    me = ip(st, "default/web-0")
    got = trace_service(synced(st), Flow(me, cluster_ip(st, "web"), "tcp", 80))
    assert got.masquerade == {(me, 8080)} and len(got.backends) == 3


def test_client_ip_affinity_keeps_one_client_on_its_first_choice() -> None:
    st = cluster()
    v = synced(st)
    aff = Affinity()
    first = Flow(CLIENT, cluster_ip(st, "sticky"), "tcp", 83)
    choices = trace_service(v, first, aff=aff).backends
    assert len(choices) == 3
    chosen = sorted(choices)[1]
    remember(v, first, chosen, aff)
    assert trace_service(v, first, aff=aff).backends == {chosen}
    other = Flow("10.244.9.10", cluster_ip(st, "sticky"), "tcp", 83)
    assert trace_service(v, other, aff=aff).backends == choices
    # the NodePort of the same Service shares the client's remembered choice
    node = Flow(CLIENT, "172.31.0.1", "tcp", 30083, local=True)
    assert trace_service(v, node, aff=aff).backends == {chosen}


def test_affinity_names_are_readable_and_generated() -> None:
    st = cluster()
    v = synced(st)
    (chain,) = [c for c in v.chains if c.startswith("aff-")]
    assert chain.endswith("-default-sticky-tcp-83") and is_generated(chain)
    assert chain.replace("aff-", "affinity-", 1) in v.sets
    assert not [n for n in [*v.chains, *v.sets] if is_generated(n) and n[:3] not in ("aff",)]


class Recording(FakeNft):
    def __init__(self) -> None:
        super().__init__()
        self.txs: list[Transaction] = []

    def run(self, tx: Transaction) -> None:
        self.txs.append(tx)
        super().run(tx)


def test_partial_sync_operation_counts_and_state() -> None:
    fake = Recording()
    proxy = ServiceProxy(fake, freeze_gc=False)
    proxy.sync_cluster(cluster())
    proxy.sync_cluster(cluster(ready={"default/web-1": False}))
    assert (proxy.full_syncs, proxy.failed_syncs, len(fake.txs)) == (1, 0, 2)
    # three Service ports drop from 3 endpoints to 2: be-3/npbe-3 retire, be-2/npbe-2
    # are born with their chains, the sticky port's chain is rewritten, its map flushed;
    # the retired maps' 15 elements go with the maps (no element deletes for them)
    assert dict(fake.txs[1].counts()) == {
        ("add", "map"): 2,
        ("add", "chain"): 2,
        ("add", "rule"): 11,
        ("flush", "chain"): 2,
        ("add", "element"): 10,
        ("flush", "map"): 1,
        ("delete", "chain"): 2,
        ("delete", "map"): 2,
    }
    fresh = FakeNft()
    ServiceProxy(fresh, freeze_gc=False).sync_cluster(cluster(ready={"default/web-1": False}))
    assert fake.snapshot() == fresh.snapshot()


def test_partial_sync_golden_when_an_endpoint_moves() -> None:
    fake = Recording()
    proxy = ServiceProxy(fake, freeze_gc=False)
    st = cluster()
    proxy.sync_cluster(st)
    key, eps = "default/web", st.endpoints["default/web"]["http"]
    proxy.update_endpoints(key, "http", (replace(eps[0], port=9090), *eps[1:]))
    assert proxy.sync_changes() == 2
    assert fake.txs[-1].render() == (
        f"delete element ip podnet-proxy be-3 {{ {cluster_ip(st, 'web')} . tcp . 80 . 0 }}\n"
        f"add element ip podnet-proxy be-3 {{ {cluster_ip(st, 'web')} . tcp . 80 . 0"
        f" : {eps[0].ip} . 9090 }}\n"
    )
