"""Table tests for the NetworkPolicy engine, one row per documented semantic.

Sources: https://kubernetes.io/docs/concepts/services-networking/network-policies/ and
k8s.io/api networking/v1 types.go. Objects are built directly from the model.
"""

from __future__ import annotations

import pytest

from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.verdict import RuleRef
from podnet.errors import ManifestError
from podnet.model import (
    Container,
    ContainerPort,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
    Requirement,
)

ALL = LabelSelector()


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.from_labels(labels)


def ns(name: str, **labels: str) -> Namespace:
    return Namespace(name, {"kubernetes.io/metadata.name": name, **labels})


def pod(key: str, ip: str, ports: tuple[ContainerPort, ...] = (), **labels: str) -> Pod:
    namespace, name = key.split("/")
    return Pod(
        namespace, name, dict(labels), (Container("c", "img", ports=ports),), ip=ip, node="n0"
    )


def pol(
    key: str,
    selector: LabelSelector = ALL,
    ingress: tuple[PolicyRule, ...] | None = None,
    egress: tuple[PolicyRule, ...] | None = None,
    types: tuple[str, ...] | None = None,
) -> NetworkPolicy:
    namespace, name = key.split("/")
    if types is None:
        types = ("Ingress",) + (("Egress",) if egress is not None else ())
    return NetworkPolicy(namespace, name, selector, types, ingress or (), egress or ())


NAMESPACES = [ns("x", team="a"), ns("y", team="b"), ns("z")]
WEB = (
    ContainerPort(80, "TCP", "http"),
    ContainerPort(53, "UDP", "dns"),
    ContainerPort(9000, "SCTP", "sctp"),
)
XA = pod("x/a", "10.244.0.2", WEB, app="a")
XB = pod("x/b", "10.244.0.3", WEB, app="b", role="db")
YA = pod("y/a", "10.244.0.4", WEB, app="a")
YB = pod("y/b", "10.244.0.5", (ContainerPort(8080, "TCP", "http"),), app="b")
ZA = pod("z/a", "10.244.0.6", WEB, app="a")
PODS = [XA, XB, YA, YB, ZA]


def allowed(
    policies: list[NetworkPolicy],
    src: Pod | str,
    dst: Pod | str,
    port: int = 80,
    proto: str = "TCP",
) -> bool:
    return PolicyEngine(NAMESPACES, PODS, policies).verdict(src, dst, port, proto).allowed


def rule(*peers: PolicyPeer, ports: tuple[PolicyPort, ...] = ()) -> PolicyRule:
    return PolicyRule(ports=ports, peers=peers)


CASES: list[tuple[str, list[NetworkPolicy], Pod | str, Pod | str, int, str, bool]] = [
    ("no policies: everything allowed", [], XA, YB, 80, "TCP", True),
    ("ingress: [] denies all ingress to selected", [pol("x/deny")], YA, XA, 80, "TCP", False),
    ("deny-all only isolates its own namespace", [pol("x/deny")], XA, YA, 80, "TCP", True),
    ("deny ingress does not isolate egress", [pol("x/deny")], XA, YA, 80, "TCP", True),
    ("ingress [{}] allows everything", [pol("x/all", ingress=(rule(),))], ZA, XA, 80, "TCP", True),
    ("selector picks only matching pods", [pol("x/d", sel(app="b"))], YA, XA, 80, "TCP", True),
    ("selector target denied", [pol("x/d", sel(app="b"))], YA, XB, 80, "TCP", False),
    (
        "podSelector peer = same namespace only",
        [pol("x/p", ingress=(rule(PolicyPeer(pod_selector=sel(app="a"))),))],
        YA,
        XB,
        80,
        "TCP",
        False,
    ),
    (
        "podSelector peer in policy namespace",
        [pol("x/p", ingress=(rule(PolicyPeer(pod_selector=sel(app="a"))),))],
        XA,
        XB,
        80,
        "TCP",
        True,
    ),
    (
        "namespaceSelector alone: all pods of matching ns",
        [pol("x/p", ingress=(rule(PolicyPeer(namespace_selector=sel(team="b"))),))],
        YB,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "namespaceSelector alone: other ns denied",
        [pol("x/p", ingress=(rule(PolicyPeer(namespace_selector=sel(team="b"))),))],
        ZA,
        XA,
        80,
        "TCP",
        False,
    ),
    (
        "both selectors in one peer AND: match",
        [pol("x/p", ingress=(rule(PolicyPeer(sel(app="a"), sel(team="b"))),))],
        YA,
        XB,
        80,
        "TCP",
        True,
    ),
    (
        "both selectors in one peer AND: wrong pod",
        [pol("x/p", ingress=(rule(PolicyPeer(sel(app="a"), sel(team="b"))),))],
        YB,
        XB,
        80,
        "TCP",
        False,
    ),
    (
        "both selectors in one peer AND: wrong ns",
        [pol("x/p", ingress=(rule(PolicyPeer(sel(app="a"), sel(team="b"))),))],
        ZA,
        XB,
        80,
        "TCP",
        False,
    ),
    (
        "two peers OR",
        [pol("x/p", ingress=(rule(PolicyPeer(sel(app="zz")), PolicyPeer(None, sel(team="b"))),))],
        YB,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "empty namespaceSelector = all namespaces",
        [pol("x/p", ingress=(rule(PolicyPeer(sel(app="a"), ALL)),))],
        ZA,
        XB,
        80,
        "TCP",
        True,
    ),
    (
        "matchExpressions In",
        [
            pol(
                "x/p",
                ingress=(
                    rule(
                        PolicyPeer(
                            None,
                            LabelSelector(
                                match_expressions=(
                                    Requirement("kubernetes.io/metadata.name", "In", ("y", "z")),
                                )
                            ),
                        )
                    ),
                ),
            )
        ],
        ZA,
        XB,
        80,
        "TCP",
        True,
    ),
    (
        "matchExpressions NotIn matches pods lacking key",
        [
            pol(
                "x/p",
                ingress=(
                    rule(
                        PolicyPeer(
                            LabelSelector(
                                match_expressions=(Requirement("role", "NotIn", ("db",)),)
                            )
                        )
                    ),
                ),
            )
        ],
        XA,
        XB,
        80,
        "TCP",
        True,
    ),
    (
        "matchExpressions Exists",
        [
            pol(
                "y/p",
                ingress=(
                    rule(
                        PolicyPeer(
                            LabelSelector(match_expressions=(Requirement("role", "Exists"),)), ALL
                        )
                    ),
                ),
            )
        ],
        XA,
        YA,
        80,
        "TCP",
        False,
    ),
    (
        "matchExpressions DoesNotExist",
        [
            pol(
                "y/p",
                ingress=(
                    rule(
                        PolicyPeer(
                            LabelSelector(match_expressions=(Requirement("role", "DoesNotExist"),)),
                            ALL,
                        )
                    ),
                ),
            )
        ],
        XA,
        YA,
        80,
        "TCP",
        True,
    ),
    (
        "ipBlock matches pod IP",
        [pol("x/p", ingress=(rule(PolicyPeer(ip_block=IPBlock("10.244.0.4/32"))),))],
        YA,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "ipBlock except excludes",
        [
            pol(
                "x/p",
                ingress=(rule(PolicyPeer(ip_block=IPBlock("10.244.0.0/24", ("10.244.0.4/31",)))),),
            )
        ],
        YB,
        XA,
        80,
        "TCP",
        False,
    ),
    (
        "ipBlock except keeps the rest",
        [
            pol(
                "x/p",
                ingress=(rule(PolicyPeer(ip_block=IPBlock("10.244.0.0/24", ("10.244.0.4/31",)))),),
            )
        ],
        ZA,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "ipBlock matches external source",
        [pol("x/p", ingress=(rule(PolicyPeer(ip_block=IPBlock("192.0.2.0/24"))),))],
        "192.0.2.7",
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "pod selector never matches external source",
        [pol("x/p", ingress=(rule(PolicyPeer(None, ALL)),))],
        "192.0.2.7",
        XA,
        80,
        "TCP",
        False,
    ),
    (
        "empty from allows external sources too",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", 80),)),))],
        "192.0.2.7",
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "egress to external only faces egress side",
        [pol("x/p", egress=(rule(PolicyPeer(ip_block=IPBlock("0.0.0.0/0"))),))],
        XA,
        "192.0.2.7",
        443,
        "TCP",
        True,
    ),
    (
        "IP string of a pod stands for the pod",
        [pol("x/deny")],
        "10.244.0.4",
        "10.244.0.2",
        80,
        "TCP",
        False,
    ),
    (
        "numeric port",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", 80),)),))],
        YA,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "numeric port other port",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", 80),)),))],
        YA,
        XA,
        81,
        "TCP",
        False,
    ),
    (
        "protocol must match",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("UDP", 80),)),))],
        YA,
        XA,
        80,
        "TCP",
        False,
    ),
    (
        "SCTP rule does not allow TCP",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("SCTP", 80),)),))],
        YA,
        XA,
        80,
        "TCP",
        False,
    ),
    (
        "port-less entry = all ports of protocol",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("UDP"),)),))],
        YA,
        XA,
        5353,
        "UDP",
        True,
    ),
    (
        "port-less entry other protocol",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("UDP"),)),))],
        YA,
        XA,
        80,
        "TCP",
        False,
    ),
    (
        "endPort range inclusive",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", 8000, 9000),)),))],
        YA,
        XA,
        9000,
        "TCP",
        True,
    ),
    (
        "endPort range outside",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", 8000, 9000),)),))],
        YA,
        XA,
        9001,
        "TCP",
        False,
    ),
    (
        "named port ingress",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", "http"),)),))],
        YA,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "named port ingress wrong number",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("TCP", "http"),)),))],
        YA,
        XA,
        81,
        "TCP",
        False,
    ),
    (
        "named port protocol-specific",
        [pol("x/p", ingress=(rule(ports=(PolicyPort("UDP", "http"),)),))],
        YA,
        XA,
        80,
        "UDP",
        False,
    ),
    (
        "named port egress resolved on destination",
        [pol("x/p", egress=(rule(ports=(PolicyPort("TCP", "http"),)),), types=("Egress",))],
        XA,
        YB,
        8080,
        "TCP",
        True,
    ),
    (
        "named port egress: destination's number, not source's",
        [pol("x/p", egress=(rule(ports=(PolicyPort("TCP", "http"),)),), types=("Egress",))],
        XA,
        YB,
        80,
        "TCP",
        False,
    ),
    (
        "named port egress to external matches nothing",
        [pol("x/p", egress=(rule(ports=(PolicyPort("TCP", "http"),)),), types=("Egress",))],
        XA,
        "192.0.2.1",
        80,
        "TCP",
        False,
    ),
    (
        "egress deny at source wins over ingress allow",
        [pol("x/e", egress=(), types=("Egress",)), pol("y/i", ingress=(rule(),))],
        XA,
        YA,
        80,
        "TCP",
        False,
    ),
    (
        "egress allow + ingress deny = deny",
        [pol("x/e", egress=(rule(),), types=("Egress",)), pol("y/i")],
        XA,
        YA,
        80,
        "TCP",
        False,
    ),
    (
        "policies are additive",
        [
            pol("x/p1", ingress=(rule(ports=(PolicyPort("TCP", 81),)),)),
            pol("x/p2", ingress=(rule(ports=(PolicyPort("TCP", 80),)),)),
        ],
        YA,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "rules of a type absent from policyTypes are ignored (no isolation)",
        [pol("x/p", egress=(), types=("Ingress",), ingress=(rule(),))],
        XA,
        YA,
        80,
        "TCP",
        True,
    ),
    (
        "egress-only policy does not isolate ingress",
        [pol("x/p", egress=(), types=("Egress",))],
        YA,
        XA,
        80,
        "TCP",
        True,
    ),
    (
        "namespace label of metadata.name",
        [
            pol(
                "x/p",
                ingress=(rule(PolicyPeer(None, sel(**{"kubernetes.io/metadata.name": "z"}))),),
            )
        ],
        ZA,
        XA,
        80,
        "TCP",
        True,
    ),
]


@pytest.mark.parametrize(
    ("policies", "src", "dst", "port", "proto", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_semantics(
    policies: list[NetworkPolicy],
    src: Pod | str,
    dst: Pod | str,
    port: int,
    proto: str,
    expected: bool,
) -> None:
    assert allowed(policies, src, dst, port, proto) is expected


def test_verdict_records_rules_and_reason() -> None:
    policies = [pol("x/deny"), pol("x/allow-a", ingress=(rule(PolicyPeer(None, ALL)),))]
    v = PolicyEngine(NAMESPACES, PODS, policies).verdict(YA, XA, 80)
    assert v.allowed
    assert v.ingress.isolated and v.ingress.isolating_policies == ("x/allow-a", "x/deny")
    assert v.ingress.allowed_by == (RuleRef("x/allow-a", "ingress", 0),)
    assert not v.egress.isolated
    assert v.reason == (
        "allowed: y/a not isolated for egress; ingress allowed by x/allow-a ingress rule #0"
    )
    assert str(v.ingress.allowed_by[0]) == "x/allow-a ingress rule #0"


def test_denied_reason_names_policies() -> None:
    v = PolicyEngine(NAMESPACES, PODS, [pol("y/deny-all")]).verdict(XA, YB, 80)
    assert not v.allowed
    assert (
        v.reason
        == "denied: y/b is isolated for ingress by [y/deny-all] and no rule allows x/a on 80/TCP"
    )
    assert "denied" in v.ingress.explain()
    assert "not isolated" in v.egress.explain()


def test_external_end_is_not_a_pod() -> None:
    v = PolicyEngine(NAMESPACES, PODS, []).verdict("192.0.2.1", XA, 80)
    assert v.allowed and not v.egress.is_pod and v.egress.subject == "192.0.2.1"


@pytest.mark.parametrize(("port", "proto"), [(0, "TCP"), (70000, "TCP"), (80, "ICMP")])
def test_bad_input_is_a_podnet_error(port: int, proto: str) -> None:
    with pytest.raises(ManifestError):
        PolicyEngine(NAMESPACES, PODS, []).verdict(XA, YA, port, proto)


def test_bad_ip_is_a_podnet_error() -> None:
    with pytest.raises(ManifestError):
        PolicyEngine(NAMESPACES, PODS, []).verdict("not-an-ip", YA, 80)


def test_protocol_case_insensitive() -> None:
    v = PolicyEngine(NAMESPACES, PODS, []).verdict(XA, YA, 80, "udp")
    assert v.allowed and v.ingress.protocol == "UDP"


def test_own_node_is_always_allowed() -> None:
    from podnet.model.cluster import Node

    nodes = [
        Node("n0", {}, "10.244.0.0/24", "172.18.0.2"),
        Node("n1", {}, "10.244.1.0/24", "172.18.0.3"),
    ]
    policies = [pol("x/deny", egress=(), types=("Ingress", "Egress"))]
    engine = PolicyEngine(NAMESPACES, PODS, policies, nodes=nodes)
    for addr in ("172.18.0.2", "10.244.0.1"):  # node address, pod-network gateway
        v = engine.verdict(addr, XA, 80)
        assert v.allowed and "own node" in v.reason
        assert engine.verdict(XA, addr, 10250).allowed
    assert not engine.verdict("172.18.0.3", XA, 80).allowed  # another node
    assert not engine.verdict(XA, "172.18.0.3", 10250).allowed
    # without nodes the engine cannot know: the node is just an address
    assert not PolicyEngine(NAMESPACES, PODS, policies).verdict("172.18.0.2", XA, 80).allowed
