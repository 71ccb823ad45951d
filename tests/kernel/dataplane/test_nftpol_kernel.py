"""Kernel tests of the NetworkPolicy table: real TCP/UDP connections between pod netns.

Two nodes (pods on both, so egress is judged on the source's node and ingress on the
destination's), the Service proxy loaded on both (ClusterIP traffic is DNATed in
prerouting, then judged on the endpoint in forward), pods in the namespaces prod, dev
and kube-system. Every probe uses pod IPs or ClusterIPs inside the scratch namespaces,
with a 1 s timeout. Teardown is guaranteed by the module fixture's ``finally``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator

import pytest
from support.policy_topology import PodSpec, PolTopology

from podnet.dataplane.policy.compile import policy_states
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.proxy.services import compile_services
from podnet.dataplane.proxy.sync import full_sync
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.clusterpolicy import (
    ADMIN,
    BASELINE,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
)
from podnet.model.objects import (
    Container,
    ContainerPort,
    IPBlock,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
    Service,
    ServicePort,
)
from podnet.model.selectors import EMPTY, LabelSelector

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft"
    ),
]

SPECS = {
    "a": PodSpec("a", 0, "10.244.0.2", tcp=(8080, 8081, 9090), udp=(5353,)),
    "b": PodSpec("b", 0, "10.244.0.3", tcp=(8080, 8081), udp=(5353,)),
    "c": PodSpec("c", 0, "10.244.0.4", tcp=(8080,)),
    "d": PodSpec("d", 1, "10.244.1.2", tcp=(8080,)),
    "dns": PodSpec("dns", 1, "10.244.1.3", tcp=(53,), udp=(53,)),
}
IP = {k: s.ip for k, s in SPECS.items()}
WEB_VIP, DNS_VIP = "10.96.0.20", "10.96.0.10"


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.from_labels(labels)


def mkpod(ns: str, who: str, labels: dict[str, str], *ports: ContainerPort) -> Pod:
    spec = SPECS[who]
    return Pod(
        ns, who, labels, (Container("c", "x", ports=ports),), ip=spec.ip, node=f"node-{spec.node}"
    )


PODS = (
    mkpod("prod", "a", {"app": "web"}, ContainerPort(8080, name="http"), ContainerPort(9090)),
    mkpod("prod", "b", {"app": "db"}, ContainerPort(8081, name="http")),
    mkpod("dev", "c", {"app": "client"}),
    mkpod("dev", "d", {"app": "client"}),
    mkpod(
        "kube-system",
        "dns",
        {"k8s-app": "kube-dns"},
        ContainerPort(53, "UDP", "dns"),
        ContainerPort(53, "TCP", "dns-tcp"),
    ),
)
NAMESPACES = tuple(
    Namespace(n, {"kubernetes.io/metadata.name": n, "team": n})
    for n in ("prod", "dev", "kube-system")
)
SERVICES = (
    Service(
        "prod", "web", selector={"app": "web"}, ports=(ServicePort(80, "http"),), cluster_ip=WEB_VIP
    ),
    Service(
        "kube-system",
        "kube-dns",
        selector={"k8s-app": "kube-dns"},
        ports=(ServicePort(53, 53, "UDP", "dns"), ServicePort(53, 53, "TCP", "dns-tcp")),
        cluster_ip=DNS_VIP,
    ),
)
ENDPOINTS: dict[str, dict[str, tuple[Endpoint, ...]]] = {
    "prod/web": {"": (Endpoint("prod/a", IP["a"], "node-0", 8080, "TCP"),)},
    "kube-system/kube-dns": {
        "dns": (Endpoint("kube-system/dns", IP["dns"], "node-1", 53, "UDP"),),
        "dns-tcp": (Endpoint("kube-system/dns", IP["dns"], "node-1", 53, "TCP"),),
    },
}


def cluster(
    *policies: NetworkPolicy,
    pods: tuple[Pod, ...] = PODS,
    cps: tuple[ClusterNetworkPolicy, ...] = (),
) -> ClusterState:
    return ClusterState((), NAMESPACES, pods, SERVICES, policies, ENDPOINTS, cluster_policies=cps)


def policy(
    ns: str, name: str, selector: LabelSelector, types: tuple[str, ...], **kw: object
) -> NetworkPolicy:
    return NetworkPolicy(ns, name, selector, types, **kw)  # type: ignore[arg-type]


DENY_INGRESS_PROD = policy("prod", "deny-ingress", EMPTY, ("Ingress",))
DENY_EGRESS_DEV = policy("dev", "deny-egress", EMPTY, ("Egress",))


class Cluster:
    """The topology plus one PolicyProxy per node."""

    def __init__(self, topo: PolTopology) -> None:
        self.topo = topo
        self.proxies = [PolicyProxy(topo.runner(i)) for i in range(2)]

    def apply(self, state: ClusterState, deny: str = "drop") -> list[int]:
        tables = policy_states(state, ["node-0", "node-1"], deny)
        return [p.sync(tables[f"node-{i}"]) for i, p in enumerate(self.proxies)]

    def probe(self, who: str, *probes: tuple[str, int, str]) -> list[str]:
        return self.topo.probe(who, list(probes))


@pytest.fixture(scope="module")
def live() -> Iterator[Cluster]:
    topo = PolTopology(f"pnp-{secrets.token_hex(3)}", SPECS)
    try:
        topo.build()
        for i in range(2):
            full_sync(topo.runner(i), compile_services(cluster()))
        c = Cluster(topo)
        yield c
    finally:
        topo.teardown()


def T(who: str, port: int) -> tuple[str, int, str]:
    return (IP.get(who, who), port, "tcp")


def U(who: str, port: int) -> tuple[str, int, str]:
    return (IP.get(who, who), port, "udp")


def test_without_policies_everything_connects(live: Cluster) -> None:
    live.apply(cluster())
    got = live.probe("c", T("a", 8080), T("d", 8080), T(WEB_VIP, 80), U(DNS_VIP, 53), U("b", 5353))
    assert got == ["ok:a", "ok:d", "ok:a", "ok:dns", "ok:b"]


def test_default_deny_ingress_and_allow_from_namespace_on_named_port(live: Cluster) -> None:
    allow = policy(
        "prod",
        "allow-dev-http",
        sel(app="web"),
        ("Ingress",),
        ingress=(
            PolicyRule(
                ports=(PolicyPort(port="http"),),
                peers=(PolicyPeer(namespace_selector=sel(team="dev")),),
            ),
        ),
    )
    live.apply(cluster(DENY_INGRESS_PROD, allow))
    assert live.probe(
        "c", T("a", 8080), T("a", 9090), T("b", 8081), U("a", 5353), T(WEB_VIP, 80)
    ) == [
        "ok:a",
        "timeout",
        "timeout",
        "timeout",
        "ok:a",
    ]
    assert live.probe("d", T("a", 8080), T(WEB_VIP, 80)) == ["ok:a", "ok:a"]  # across nodes
    assert live.probe("b", T("a", 8080), T("c", 8080)) == ["timeout", "ok:c"]
    # a pod reaching itself through its own Service (hairpin) is never blocked
    assert live.probe("a", T(WEB_VIP, 80)) == ["ok:a"]


def test_policy_judges_the_endpoint_port_after_dnat(live: Cluster) -> None:
    on_80 = policy(
        "prod",
        "only-80",
        sel(app="web"),
        ("Ingress",),
        ingress=(PolicyRule(ports=(PolicyPort(port=80),)),),
    )
    live.apply(cluster(on_80))
    assert live.probe("c", T(WEB_VIP, 80), T("a", 8080)) == ["timeout", "timeout"]
    on_8080 = policy(
        "prod",
        "only-80",
        sel(app="web"),
        ("Ingress",),
        ingress=(PolicyRule(ports=(PolicyPort(port=8000, end_port=8080),)),),
    )
    live.apply(cluster(on_8080))
    assert live.probe("c", T(WEB_VIP, 80), T("a", 8081)) == ["ok:a", "timeout"]


def test_default_deny_egress_keeps_dns_only_where_allowed(live: Cluster) -> None:
    allow_dns = policy(
        "dev",
        "allow-dns",
        EMPTY,
        ("Egress",),
        egress=(
            PolicyRule(
                ports=(PolicyPort("UDP", 53), PolicyPort("TCP", 53)),
                peers=(
                    PolicyPeer(
                        pod_selector=sel(**{"k8s-app": "kube-dns"}),
                        namespace_selector=sel(**{"kubernetes.io/metadata.name": "kube-system"}),
                    ),
                ),
            ),
        ),
    )
    live.apply(cluster(DENY_EGRESS_DEV))
    assert live.probe("c", U(DNS_VIP, 53), T("a", 8080)) == ["timeout", "timeout"]
    live.apply(cluster(DENY_EGRESS_DEV, allow_dns))
    got = live.probe(
        "c", U(DNS_VIP, 53), T(DNS_VIP, 53), T("dns", 53), T(WEB_VIP, 80), T("d", 8080)
    )
    assert got == ["ok:dns", "ok:dns", "ok:dns", "timeout", "timeout"]
    assert live.probe("d", U(DNS_VIP, 53)) == ["ok:dns"]
    # ingress into the isolated-for-egress pods still works (replies are established)
    assert live.probe("a", T("c", 8080), T("d", 8080)) == ["ok:c", "ok:d"]


def test_ipblock_with_except_applies_to_pod_ips_and_udp(live: Cluster) -> None:
    to_db = policy(
        "prod",
        "db-from-block",
        sel(app="db"),
        ("Ingress",),
        ingress=(
            PolicyRule(
                ports=(PolicyPort("TCP", 8080), PolicyPort("UDP", 5353)),
                peers=(PolicyPeer(ip_block=IPBlock("10.244.0.0/16", ("10.244.0.4/32",))),),
            ),
        ),
    )
    c_to_node1 = policy(
        "dev",
        "c-to-node-1",
        sel(app="client"),
        ("Egress",),
        egress=(PolicyRule(peers=(PolicyPeer(ip_block=IPBlock("10.244.1.0/24")),)),),
    )
    live.apply(cluster(to_db, c_to_node1))
    assert live.probe("a", T("b", 8080), U("b", 5353), T("b", 8081)) == ["ok:b", "ok:b", "timeout"]
    assert live.probe("c", T("b", 8080), T("d", 8080), U(DNS_VIP, 53)) == [
        "timeout",
        "ok:d",
        "ok:dns",
    ]
    assert live.probe("d", U("b", 5353), T("b", 8080), T("a", 8080)) == [
        "timeout",
        "timeout",
        "timeout",
    ]


def test_egress_named_port_resolves_per_destination_pod(live: Cluster) -> None:
    http_only = policy(
        "dev",
        "http-out",
        sel(app="client"),
        ("Egress",),
        egress=(PolicyRule(ports=(PolicyPort(port="http"),)),),
    )
    live.apply(cluster(http_only))
    got = live.probe("c", T("a", 8080), T("b", 8081), T("b", 8080), T("a", 8081), T(WEB_VIP, 80))
    assert got == ["ok:a", "ok:b", "timeout", "timeout", "ok:a"]


def test_reject_mode_fails_fast(live: Cluster) -> None:
    live.apply(cluster(DENY_INGRESS_PROD), deny="reject")
    start = time.monotonic()
    assert live.probe("c", T("a", 8080), U("a", 5353), T(WEB_VIP, 80)) == [
        "refused",
        "unreachable",
        "refused",
    ]
    assert time.monotonic() - start < 0.9
    live.apply(cluster(DENY_INGRESS_PROD))
    assert live.probe("c", T("a", 8080)) == ["timeout"]


def test_label_change_is_element_only_and_takes_effect(live: Cluster) -> None:
    allow = policy(
        "prod",
        "allow-clients",
        sel(app="web"),
        ("Ingress",),
        ingress=(
            PolicyRule(
                peers=(PolicyPeer(namespace_selector=EMPTY, pod_selector=sel(app="client")),)
            ),
        ),
    )
    live.apply(cluster(DENY_INGRESS_PROD, allow))
    assert live.probe("c", T("a", 8080)) == ["ok:a"]
    relabelled = tuple(
        Pod(p.namespace, p.name, {"app": "other"}, p.containers, ip=p.ip, node=p.node)
        if p.name == "c"
        else p
        for p in PODS
    )
    before = [p.full_syncs for p in live.proxies]
    ops = live.apply(cluster(DENY_INGRESS_PROD, allow, pods=relabelled))
    assert [p.full_syncs for p in live.proxies] == before
    assert ops == [1, 1]  # one element deleted from the peer set on each node
    assert live.probe("c", T("a", 8080)) == ["timeout"]
    assert live.probe("d", T("a", 8080)) == ["ok:a"]


def test_egress_accept_does_not_skip_the_ingress_check_on_the_same_node(live: Cluster) -> None:
    c_anything = policy("dev", "c-out-all", sel(app="client"), ("Egress",), egress=(PolicyRule(),))
    live.apply(cluster(c_anything, DENY_INGRESS_PROD))
    # c's egress accepts, a's ingress (same node) still drops; d's crosses nodes
    assert live.probe("c", T("a", 8080), T(WEB_VIP, 80), T("d", 8080)) == [
        "timeout",
        "timeout",
        "ok:d",
    ]
    a_from_dev = policy(
        "prod",
        "a-from-dev",
        sel(app="web"),
        ("Ingress",),
        ingress=(PolicyRule(peers=(PolicyPeer(namespace_selector=sel(team="dev")),)),),
    )
    live.apply(cluster(c_anything, DENY_INGRESS_PROD, a_from_dev))
    assert live.probe("c", T("a", 8080), T("b", 8081)) == ["ok:a", "timeout"]


# -- the cluster admin's tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy) ------

FROM_DEV = ClusterPeer(namespaces=sel(team="dev"))
PROD = ClusterPeer(namespaces=sel(team="prod"))


def anp(
    name: str, priority: int, action: str, peer: ClusterPeer = FROM_DEV, tier: str = ADMIN
) -> ClusterNetworkPolicy:
    kind = "AdminNetworkPolicy" if tier == ADMIN else "BaselineAdminNetworkPolicy"
    rule = ClusterRule(action, (peer,))
    return ClusterNetworkPolicy(name, tier, priority, PROD, ingress=(rule,), kind=kind)


ANY_NS = ClusterPeer(namespaces=EMPTY)
ALLOW_WEB_FROM_DEV = policy(
    "prod",
    "web-from-dev",
    sel(app="web"),
    ("Ingress",),
    ingress=(PolicyRule(peers=(PolicyPeer(namespace_selector=sel(team="dev")),)),),
)


def test_admin_deny_beats_a_network_policy_allow(live: Cluster) -> None:
    live.apply(cluster(ALLOW_WEB_FROM_DEV, cps=(anp("deny-dev", 10, "Deny"),)))
    # c on a's node, d across; b (prod) is not a peer of the Deny
    assert live.probe("c", T("a", 8080), T(WEB_VIP, 80), T("d", 8080)) == [
        "timeout",
        "timeout",
        "ok:d",
    ]
    assert live.probe("d", T("a", 8080)) == ["timeout"]
    assert live.probe("b", T("a", 8080)) == ["timeout"]  # isolated by the NetworkPolicy
    live.apply(cluster(cps=(anp("deny-dev", 10, "Deny"),)))
    assert live.probe("b", T("a", 8080)) == ["ok:a"]


def test_admin_pass_hands_over_to_a_network_policy_allow(live: Cluster) -> None:
    cps = (anp("pass-dev", 10, "Pass"), anp("deny-all", 20, "Deny", ANY_NS))
    live.apply(cluster(ALLOW_WEB_FROM_DEV, cps=cps))
    assert live.probe("c", T("a", 8080), T("b", 8081)) == ["ok:a", "ok:b"]  # b: no NP, no BANP
    assert live.probe("d", T("a", 8080)) == ["ok:a"]
    assert live.probe("dns", T("a", 8080), T("b", 8081)) == ["timeout", "timeout"]  # deny-all


def test_baseline_deny_with_a_network_policy_allow(live: Cluster) -> None:
    banp = anp("default", 0, "Deny", ANY_NS, tier=BASELINE)
    live.apply(cluster(ALLOW_WEB_FROM_DEV, cps=(banp,)))
    assert live.probe("c", T("a", 8080), T("b", 8081)) == ["ok:a", "timeout"]
    assert live.probe("d", T("a", 8080), T(WEB_VIP, 80)) == ["ok:a", "ok:a"]
    assert live.probe("dns", T("a", 8080), T("b", 8081)) == ["timeout", "timeout"]
    assert live.probe("a", T("c", 8080)) == ["ok:c"]  # dev is not a subject
