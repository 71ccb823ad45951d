"""The cluster admin's tiers in the policy table, traced (support.nft_trace).

Two nodes; a packet passes when the source's node and the destination's node both
let it through (egress is judged on the source's node, ingress on the destination's).
Every action of each tier, Pass down to NetworkPolicy and to the Baseline tier, an
egress Accept that still faces the destination's ingress (same node and across),
named ports, ranges, node and network peers, the (priority, kind, name) order, and a
label change that only moves set elements.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from support.nft_trace import Packet, View, fake_view, passes, view_of

from podnet.control.policy.engine import PolicyEngine
from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.policy.compile import FAMILY, TABLE, policy_states
from podnet.dataplane.policy.sync import PolicyProxy, diff, full_transaction
from podnet.model.cluster import ClusterState, Node
from podnet.model.clusterpolicy import (
    ACCEPT,
    ADMIN,
    BASELINE,
    DENY,
    PASS,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
    PodsIn,
)
from podnet.model.objects import (
    Container,
    ContainerPort,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPeer,
    PolicyRule,
)
from podnet.model.selectors import EMPTY, LabelSelector

NAME = "kubernetes.io/metadata.name"
HOST = "kubernetes.io/hostname"


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.from_labels(labels)


def ns_sel(name: str) -> LabelSelector:
    return LabelSelector.from_labels({NAME: name})


def pod(ns: str, name: str, ip: str, node: str, *ports: ContainerPort, **labels: str) -> Pod:
    return Pod(ns, name, dict(labels), (Container("c", "x", ports=ports),), ip=ip, node=node)


A = pod("prod", "a", "10.244.0.2", "node-0", ContainerPort(8080, name="http"), app="web")
B = pod("prod", "b", "10.244.0.3", "node-0", app="db")
C = pod("dev", "c", "10.244.1.2", "node-1", app="client")  # the other node
D = pod("dev", "d", "10.244.0.4", "node-0", app="client")  # the same node as a and b
E = pod("prod", "e", "10.244.1.3", "node-1", ContainerPort(53, "UDP", "http"), app="web")
PODS = (A, B, C, D, E)
NODES = (
    Node("node-0", {HOST: "node-0"}, "10.244.0.0/24", "172.18.0.2"),
    Node("node-1", {HOST: "node-1"}, "10.244.1.0/24", "172.18.0.3"),
)
NSS = tuple(Namespace(n, {NAME: n}) for n in ("prod", "dev"))
DEV = ClusterPeer(namespaces=ns_sel("dev"))
PROD = ClusterPeer(namespaces=ns_sel("prod"))


def cnp(
    name: str,
    subject: ClusterPeer,
    ingress: tuple[ClusterRule, ...] = (),
    egress: tuple[ClusterRule, ...] = (),
    tier: str = ADMIN,
    priority: int = 10,
    kind: str = "AdminNetworkPolicy",
) -> ClusterNetworkPolicy:
    if tier == BASELINE and kind == "AdminNetworkPolicy":
        kind = "BaselineAdminNetworkPolicy"
    return ClusterNetworkPolicy(name, tier, priority, subject, ingress, egress, kind)


def rule(action: str, *peers: ClusterPeer, ports: tuple[ClusterPort, ...] = ()) -> ClusterRule:
    return ClusterRule(action, peers, ports)


def cluster(
    *cps: ClusterNetworkPolicy, nps: tuple[NetworkPolicy, ...] = (), pods: tuple[Pod, ...] = PODS
) -> ClusterState:
    return ClusterState(NODES, NSS, pods, (), nps, cluster_policies=cps)


def tables(state: ClusterState) -> dict[str, View]:
    return {n: view_of(ps) for n, ps in policy_states(state).items()}


def allowed(
    state: ClusterState, src: Pod | str, dst: Pod | str, port: int = 8080, proto: str = "TCP"
) -> bool:
    """Both hops: the source's node (egress) and the destination's node (ingress)."""
    views = tables(state)
    where = {p.ip: p.node for p in state.pods if p.ip and p.node}
    s = src.ip if isinstance(src, Pod) else src
    d = dst.ip if isinstance(dst, Pod) else dst
    assert s is not None and d is not None
    pkt = Packet(s, d, proto, port)
    hops = {where[ip] for ip in (s, d) if ip in where}
    return all(passes(views[n], pkt) for n in hops)


def test_no_cluster_policies_allow_everything() -> None:
    st = cluster()
    assert all(allowed(st, s, d) for s in PODS for d in PODS)


def test_admin_deny_ingress_same_node_and_across() -> None:
    st = cluster(cnp("deny-dev", PROD, ingress=(rule(DENY, DEV),)))
    assert not allowed(st, C, A) and not allowed(st, D, A)  # across, same node
    assert allowed(st, B, A) and allowed(st, A, C)  # other sources, other subjects


def test_admin_deny_egress() -> None:
    st = cluster(cnp("no-prod", DEV, egress=(rule(DENY, PROD),)))
    assert not allowed(st, C, A) and not allowed(st, D, B)
    assert allowed(st, C, D) and allowed(st, A, C)


def test_admin_accept_overrides_a_network_policy_deny() -> None:
    deny_all = NetworkPolicy("prod", "deny-all", EMPTY, ("Ingress",))
    st = cluster(cnp("dev-in", PROD, ingress=(rule(ACCEPT, DEV),)), nps=(deny_all,))
    assert allowed(st, C, A) and allowed(st, D, B)
    assert not allowed(st, B, A)  # not matched by the ANP: the NetworkPolicy denies


def test_admin_order_is_priority_then_kind_then_name() -> None:
    accept = rule(ACCEPT, DEV)
    deny = rule(DENY, DEV)
    first = cluster(cnp("z", PROD, (accept,), priority=5), cnp("a", PROD, (deny,), priority=6))
    assert allowed(first, C, A)
    same = cluster(cnp("b", PROD, (accept,)), cnp("a", PROD, (deny,)))
    assert not allowed(same, C, A)  # equal priority: by name, "a" first
    kinds = cluster(cnp("a", PROD, (accept,), kind="ClusterNetworkPolicy"), cnp("b", PROD, (deny,)))
    assert not allowed(kinds, C, A)  # AdminNetworkPolicy sorts before ClusterNetworkPolicy


def test_rules_in_written_order_within_a_policy() -> None:
    st = cluster(cnp("p", PROD, ingress=(rule(ACCEPT, DEV), rule(DENY, DEV))))
    assert allowed(st, C, A)
    st = cluster(cnp("p", PROD, ingress=(rule(DENY, DEV), rule(ACCEPT, DEV))))
    assert not allowed(st, C, A)


def test_pass_skips_the_rest_of_the_admin_tier_to_a_network_policy() -> None:
    allow_client = NetworkPolicy(
        "prod",
        "allow-client",
        sel(app="web"),
        ("Ingress",),
        ingress=(PolicyRule(peers=(PolicyPeer(namespace_selector=ns_sel("dev")),)),),
    )
    deny_later = cnp("deny-all", PROD, ingress=(rule(DENY, DEV),), priority=20)
    passing = cnp("pass-dev", PROD, ingress=(rule(PASS, DEV),), priority=10)
    st = cluster(passing, deny_later, nps=(allow_client,))
    assert allowed(st, C, A) and allowed(st, D, A)  # NetworkPolicy allows after the Pass
    assert allowed(st, C, B)  # b is not isolated and no Baseline: allowed
    assert not allowed(cluster(deny_later, nps=(allow_client,)), C, A)  # without the Pass


def test_pass_then_isolating_network_policy_denies() -> None:
    deny_all = NetworkPolicy("prod", "deny-all", EMPTY, ("Ingress",))
    st = cluster(cnp("pass-dev", PROD, ingress=(rule(PASS, DEV),)), nps=(deny_all,))
    assert not allowed(st, C, A)


def test_pass_reaches_the_baseline_tier() -> None:
    banp = cnp("default", PROD, ingress=(rule(DENY, DEV),), tier=BASELINE)
    st = cluster(cnp("pass-dev", PROD, ingress=(rule(PASS, DEV),)), banp)
    assert not allowed(st, C, A)


def test_baseline_deny_with_a_network_policy_allow() -> None:
    banp = cnp("default", PROD, ingress=(rule(DENY, DEV),), tier=BASELINE)
    allow_web = NetworkPolicy(
        "prod",
        "allow-web",
        sel(app="web"),
        ("Ingress",),
        ingress=(PolicyRule(peers=(PolicyPeer(namespace_selector=ns_sel("dev")),)),),
    )
    st = cluster(banp, nps=(allow_web,))
    assert allowed(st, C, A) and allowed(st, D, A)  # isolated by the NP: its verdict is final
    assert not allowed(st, C, B) and not allowed(st, D, B)  # b not isolated: Baseline denies
    assert allowed(st, A, B)  # the Baseline rule does not match prod


def test_baseline_accept_before_deny_and_baseline_pass() -> None:
    banp = cnp(
        "default",
        PROD,
        ingress=(rule(ACCEPT, DEV), rule(PASS, PROD), rule(DENY, ClusterPeer(namespaces=EMPTY))),
        tier=BASELINE,
    )
    st = cluster(banp)
    assert allowed(st, C, B)  # Accept
    assert allowed(st, A, B)  # Pass in the last tier: nothing below, allowed
    egress = cnp("default", DEV, egress=(rule(DENY, PROD),), tier=BASELINE)
    assert not allowed(cluster(egress), D, A) and allowed(cluster(egress), A, D)


def test_egress_accept_still_faces_the_ingress_check() -> None:
    deny_in = NetworkPolicy("prod", "deny-in", EMPTY, ("Ingress",))
    st = cluster(cnp("dev-out", DEV, egress=(rule(ACCEPT, PROD),)), nps=(deny_in,))
    assert not allowed(st, D, A)  # same node
    assert not allowed(st, C, A)  # across nodes
    anp_in = cnp("prod-in", PROD, ingress=(rule(DENY, DEV),), priority=50)
    st = cluster(cnp("dev-out", DEV, egress=(rule(ACCEPT, PROD),)), anp_in)
    assert not allowed(st, D, A) and not allowed(st, C, A)
    # and an egress Accept skips the source's own NetworkPolicy egress isolation
    deny_out = NetworkPolicy("dev", "deny-out", EMPTY, ("Egress",))
    st = cluster(cnp("dev-out", DEV, egress=(rule(ACCEPT, PROD),)), nps=(deny_out,))
    assert allowed(st, C, A) and not allowed(st, C, D)


def test_named_port_resolved_on_the_destination_any_protocol() -> None:
    port = (ClusterPort(None, named_port="http"),)
    st = cluster(
        cnp("no-http", ClusterPeer(namespaces=EMPTY), ingress=(rule(DENY, DEV, ports=port),))
    )
    assert not allowed(st, C, A, 8080)
    assert allowed(st, C, A, 9090) and allowed(st, C, A, 8080, "UDP")
    assert not allowed(st, D, E, 53, "UDP")  # e's "http" is UDP 53
    assert allowed(st, C, B, 8080)  # b declares no "http"
    eg = cluster(cnp("no-http", DEV, egress=(rule(DENY, PROD, ports=port),)))
    assert not allowed(eg, C, A, 8080) and allowed(eg, C, B, 8080)


def test_port_range_number_and_whole_protocol() -> None:
    ports = (ClusterPort("TCP", 8000, 8100), ClusterPort("UDP", 53), ClusterPort("SCTP"))
    st = cluster(cnp("ports", PROD, ingress=(rule(DENY, DEV, ports=ports),)))
    assert not allowed(st, C, A, 8000) and not allowed(st, C, A, 8100)
    assert allowed(st, C, A, 8101) and allowed(st, C, A, 7999)
    assert not allowed(st, C, A, 53, "UDP") and allowed(st, C, A, 54, "UDP")
    assert not allowed(st, C, A, 1, "SCTP")


def test_pods_peer_and_subject() -> None:
    web = ClusterPeer(pods=PodsIn(EMPTY, sel(app="web")))
    clients = ClusterPeer(pods=PodsIn(ns_sel("dev"), sel(app="client")))
    st = cluster(cnp("web", web, ingress=(rule(DENY, clients),)))
    assert not allowed(st, C, A) and not allowed(st, D, E)
    assert allowed(st, C, B)  # b is not a subject


def test_node_peers_are_node_addresses() -> None:
    node1 = ClusterPeer(nodes=sel(**{HOST: "node-1"}))
    st = cluster(cnp("no-node-1", PROD, egress=(rule(DENY, node1),)))
    assert not allowed(st, A, "172.18.0.3", 10250)
    assert allowed(st, A, "172.18.0.9", 10250) and allowed(st, A, C)
    assert allowed(st, D, "172.18.0.3", 10250)  # d is not a subject


def test_network_peers_match_pod_ips_too() -> None:
    nets = ClusterPeer(networks=("10.244.1.0/24", "192.168.0.0/16"))
    st = cluster(cnp("no-net", PROD, egress=(rule(DENY, nets),)))
    assert not allowed(st, A, C) and not allowed(st, A, "192.168.3.4", 443)
    assert allowed(st, A, D) and allowed(st, A, "8.8.8.8", 53)


def test_cluster_network_policy_tiers_read_the_same() -> None:
    admin = cnp("deny", PROD, ingress=(rule(DENY, DEV),), kind="ClusterNetworkPolicy")
    base = cnp("base", PROD, ingress=(rule(DENY, DEV),), tier=BASELINE, kind="ClusterNetworkPolicy")
    assert not allowed(cluster(admin), C, A) and not allowed(cluster(base), C, A)


def test_subject_sets_are_node_local() -> None:
    st = cluster(cnp("deny-dev", PROD, ingress=(rule(DENY, DEV),)))
    per = policy_states(st)
    subj = [n for n in per["node-0"].sets if n.startswith("subj-")]
    assert len(subj) == 1
    assert set(per["node-0"].elements[subj[0]]) == {"10.244.0.2", "10.244.0.3"}
    assert set(per["node-1"].elements[subj[0]]) == {"10.244.1.3"}


def test_fake_accepts_the_tables_and_diffs_both_ways() -> None:
    a = cluster(
        cnp("deny-dev", PROD, ingress=(rule(DENY, DEV),), egress=(rule(PASS, DEV),)),
        cnp("default", PROD, ingress=(rule(DENY, DEV),), tier=BASELINE),
    )
    b = cluster()
    fake = FakeNft()
    proxy = PolicyProxy(fake)
    for st in (a, b, a):
        ps = policy_states(st)["node-0"]
        proxy.sync(ps)
        assert fake_view(fake, FAMILY, TABLE) == view_of(ps)
        fresh = FakeNft()
        fresh.run(full_transaction(ps))
        assert fake.snapshot() == fresh.snapshot()
    assert proxy.full_syncs == 1


def test_label_change_is_element_updates_only() -> None:
    web = ClusterPeer(pods=PodsIn(EMPTY, sel(app="web")))
    client = ClusterPeer(pods=PodsIn(EMPTY, sel(app="client")))
    cps = (
        cnp("web", web, ingress=(rule(DENY, client),), egress=(rule(ACCEPT, client),)),
        cnp("default", web, ingress=(rule(DENY, DEV),), tier=BASELINE),
    )
    old = policy_states(cluster(*cps))["node-0"]
    # a stops being "web" (leaves the subject set), d stops being a "client" (leaves a peer)
    pods = (replace(A, labels={"app": "other"}), B, C, replace(D, labels={}), E)
    new = policy_states(cluster(*cps, pods=pods))["node-0"]
    tx = diff(old, new)
    assert dict(tx.counts()) == {("delete", "element"): 2}
    assert not allowed(cluster(*cps), D, A) and allowed(cluster(*cps, pods=pods), D, A)


# -- against the engine: random clusters mixing all three layers ---------------------

LABELS = (sel(app="web"), sel(app="client"), EMPTY)
PEERS = (
    DEV,
    PROD,
    ClusterPeer(namespaces=EMPTY),
    ClusterPeer(pods=PodsIn(EMPTY, sel(app="web"))),
    ClusterPeer(pods=PodsIn(ns_sel("dev"), sel(app="client"))),
    ClusterPeer(nodes=sel(**{HOST: "node-1"})),
    ClusterPeer(nodes=EMPTY),
    ClusterPeer(networks=("10.244.1.0/24",)),
    ClusterPeer(networks=("0.0.0.0/0",)),
)
PORT_CHOICES: tuple[tuple[ClusterPort, ...], ...] = (
    (),
    (ClusterPort("TCP", 8080),),
    (ClusterPort("TCP", 8000, 8100), ClusterPort("UDP", 53)),
    (ClusterPort("UDP"),),
    (ClusterPort(None, named_port="http"),),
)
NPS = (
    NetworkPolicy("prod", "deny-in", EMPTY, ("Ingress",)),
    NetworkPolicy(
        "prod",
        "web-from-dev",
        sel(app="web"),
        ("Ingress",),
        ingress=(PolicyRule(peers=(PolicyPeer(namespace_selector=ns_sel("dev")),)),),
    ),
    NetworkPolicy("dev", "deny-out", sel(app="client"), ("Egress",)),
)


@hs.composite
def cluster_rules(draw: hs.DrawFn, egress: bool, tier: str) -> tuple[ClusterRule, ...]:
    actions = (ACCEPT, DENY, PASS) if tier == ADMIN else (ACCEPT, DENY)
    peers = PEERS if egress else PEERS[:5]  # nodes and networks: egress only
    out = []
    for _ in range(draw(hs.integers(0, 2))):
        chosen = draw(hs.lists(hs.sampled_from(peers), min_size=1, max_size=2, unique=True))
        ports = draw(hs.sampled_from(PORT_CHOICES))
        out.append(ClusterRule(draw(hs.sampled_from(actions)), tuple(chosen), ports))
    return tuple(out)


@hs.composite
def mixed_clusters(draw: hs.DrawFn) -> ClusterState:
    cps = []
    for i in range(draw(hs.integers(0, 3))):
        tier = draw(hs.sampled_from((ADMIN, ADMIN, BASELINE)))
        subject = draw(hs.sampled_from(PEERS[:5]))
        cps.append(
            cnp(
                f"p{i}",
                subject,
                draw(cluster_rules(False, tier)),
                draw(cluster_rules(True, tier)),
                tier=tier,
                priority=draw(hs.integers(0, 2)),
            )
        )
    nps = tuple(draw(hs.lists(hs.sampled_from(NPS), max_size=2, unique=True)))
    return cluster(*cps, nps=nps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_clusters())
def test_compiled_tiers_agree_with_the_engine(state: ClusterState) -> None:
    """Every pod to every pod, node address (not its own: never crosses forward, and
    always allowed, as the engine's own-node rule) and outside address."""
    engine = PolicyEngine.of_state(state)
    views = tables(state)
    where = {p.ip: p.node for p in state.pods if p.ip and p.node}
    node_ip = {n.name: n.address for n in state.nodes}
    for src in state.pods:
        assert src.ip is not None
        dsts = [p.ip for p in state.pods if p.ip and p is not src]
        dsts += [a for n, a in node_ip.items() if n != src.node] + ["192.168.3.4"]
        for dst in dsts:
            for proto, port in (("TCP", 8080), ("TCP", 9090), ("UDP", 53), ("UDP", 8080)):
                want = engine.verdict(src, dst, port, proto)
                pkt = Packet(src.ip, dst, proto, port)
                hops = {where[ip] for ip in (src.ip, dst) if ip in where}
                got = all(passes(views[n], pkt) for n in hops)
                assert got == want.allowed, (src.key, dst, proto, port, want.reason)
