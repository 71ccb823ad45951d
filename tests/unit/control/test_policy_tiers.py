"""Table tests for the cluster admin's tiers in the policy engine.

Semantics: network-policy-api apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier`` and the
rule actions (Accept / Deny final, Pass to the next tier), apis/v1alpha1 for
AdminNetworkPolicy and BaselineAdminNetworkPolicy. Objects are built from the model.
"""

from __future__ import annotations

import pytest

from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.verdict import ClusterRuleRef, RuleRef
from podnet.manifests import from_documents, parse_text
from podnet.model import (
    Container,
    ContainerPort,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPeer,
    PolicyRule,
)
from podnet.model.cluster import Node
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


def pol(key: str, selector: LabelSelector, ingress: tuple[PolicyRule, ...] = ()) -> NetworkPolicy:
    namespace, name = key.split("/")
    return NetworkPolicy(namespace, name, selector, ("Ingress",), ingress, ())


NAMESPACES = [ns("x", team="a"), ns("y", team="b"), ns("z")]
WEB = (ContainerPort(80, "TCP", "http"), ContainerPort(53, "UDP", "dns"))
XA = pod("x/a", "10.244.0.2", WEB, app="a")
XB = pod("x/b", "10.244.0.3", WEB, app="b", role="db")
YA = pod("y/a", "10.244.0.4", WEB, app="a")
YB = pod("y/b", "10.244.0.5", (ContainerPort(8080, "TCP", "http"),), app="b")
ZA = pod("z/a", "10.244.0.6", WEB, app="a")
PODS = [XA, XB, YA, YB, ZA]


def nsp(**labels: str) -> ClusterPeer:
    return ClusterPeer(namespaces=LabelSelector.from_labels(labels))


def podp(ns: dict[str, str], **labels: str) -> ClusterPeer:
    return ClusterPeer(
        pods=PodsIn(LabelSelector.from_labels(ns), LabelSelector.from_labels(labels))
    )


EVERYONE = ClusterPeer(namespaces=ALL)


def anp(
    name: str,
    priority: int = 10,
    subject: ClusterPeer = EVERYONE,
    ingress: tuple[ClusterRule, ...] = (),
    egress: tuple[ClusterRule, ...] = (),
    tier: str = ADMIN,
    kind: str = "",
) -> ClusterNetworkPolicy:
    if not kind:
        kind = "AdminNetworkPolicy" if tier == ADMIN else "BaselineAdminNetworkPolicy"
    return ClusterNetworkPolicy(name, tier, priority, subject, ingress, egress, kind=kind)


def banp(
    ingress: tuple[ClusterRule, ...] = (), egress: tuple[ClusterRule, ...] = ()
) -> ClusterNetworkPolicy:
    return anp("default", 0, EVERYONE, ingress, egress, tier=BASELINE)


def rule(
    action: str, *peers: ClusterPeer, ports: tuple[ClusterPort, ...] = (), name: str = ""
) -> ClusterRule:
    return ClusterRule(action, peers or (EVERYONE,), ports, name)


def engine(
    cluster: list[ClusterNetworkPolicy],
    policies: list[NetworkPolicy] | None = None,
    pods: list[Pod] | None = None,
    nodes: tuple[Node, ...] = (),
) -> PolicyEngine:
    return PolicyEngine(
        NAMESPACES,
        pods or PODS,
        policies or [],
        cluster_policies=cluster,
        cluster_nodes=nodes,
    )


NP_ALLOW_XB = pol(
    "y/allow-xb", ALL, ingress=(PolicyRule(peers=(PolicyPeer(sel(role="db"), ALL),)),)
)
NP_DENY_ALL = pol("y/deny-all", ALL, ingress=())

# (name, cluster policies, NetworkPolicies, src, dst, allowed, deciding tier)
CASES: list[tuple[str, list[ClusterNetworkPolicy], list[NetworkPolicy], Pod, Pod, bool, str]] = [
    (
        "admin ingress accept beats NP deny",
        [anp("a", ingress=(rule(ACCEPT),))],
        [NP_DENY_ALL],
        XA,
        YA,
        True,
        ADMIN,
    ),
    ("admin ingress deny", [anp("a", ingress=(rule(DENY),))], [], XA, YA, False, ADMIN),
    (
        "admin ingress deny beats NP allow",
        [anp("a", ingress=(rule(DENY),))],
        [NP_ALLOW_XB],
        XB,
        YA,
        False,
        ADMIN,
    ),
    ("admin egress accept", [anp("a", egress=(rule(ACCEPT),))], [], XA, YA, True, ADMIN),
    ("admin egress deny", [anp("a", egress=(rule(DENY),))], [], XA, YA, False, ADMIN),
    (
        "pass to NP allow",
        [anp("a", ingress=(rule(PASS),)), banp(ingress=(rule(DENY),))],
        [NP_ALLOW_XB],
        XB,
        YA,
        True,
        "NetworkPolicy",
    ),
    (
        "pass to NP deny",
        [anp("a", ingress=(rule(PASS),))],
        [NP_ALLOW_XB],
        XA,
        YA,
        False,
        "NetworkPolicy",
    ),
    ("pass with nothing below", [anp("a", ingress=(rule(PASS),))], [], XA, YA, True, ""),
    (
        "pass to baseline deny",
        [anp("a", ingress=(rule(PASS),)), banp(ingress=(rule(DENY),))],
        [],
        XA,
        YA,
        False,
        BASELINE,
    ),
    (
        "baseline deny overridden by NP allow",
        [banp(ingress=(rule(DENY),))],
        [NP_ALLOW_XB],
        XB,
        YA,
        True,
        "NetworkPolicy",
    ),
    ("baseline deny, no NP", [banp(ingress=(rule(DENY),))], [], XA, YA, False, BASELINE),
    ("baseline accept", [banp(ingress=(rule(ACCEPT),))], [], XA, YA, True, BASELINE),
    ("baseline egress deny", [banp(egress=(rule(DENY),))], [], XA, YA, False, BASELINE),
    (
        "baseline pass: default allow",
        [banp(ingress=(rule(PASS), rule(DENY)))],
        [],
        XA,
        YA,
        True,
        "",
    ),
    (
        "admin accept beats baseline deny",
        [anp("a", ingress=(rule(ACCEPT),)), banp(ingress=(rule(DENY),))],
        [],
        XA,
        YA,
        True,
        ADMIN,
    ),
    ("admin egress pass, nothing below", [anp("a", egress=(rule(PASS),))], [], XA, YA, True, ""),
    (
        "admin egress pass to baseline deny",
        [anp("a", egress=(rule(PASS),)), banp(egress=(rule(DENY),))],
        [],
        XA,
        YA,
        False,
        BASELINE,
    ),
    (
        "baseline egress accept beats nothing",
        [banp(egress=(rule(ACCEPT, nsp(team="b")), rule(DENY)))],
        [],
        XA,
        YA,
        True,
        BASELINE,
    ),
    (
        "baseline egress deny after accept misses",
        [banp(egress=(rule(ACCEPT, nsp(team="c")), rule(DENY)))],
        [],
        XA,
        YA,
        False,
        BASELINE,
    ),
    (
        "lower priority first",
        [anp("b", 5, ingress=(rule(DENY),)), anp("a", 9, ingress=(rule(ACCEPT),))],
        [],
        XA,
        YA,
        False,
        ADMIN,
    ),
    (
        "rules in written order",
        [anp("a", ingress=(rule(ACCEPT), rule(DENY)))],
        [],
        XA,
        YA,
        True,
        ADMIN,
    ),
    (
        "subject not selected",
        [anp("a", subject=nsp(team="a"), ingress=(rule(DENY),))],
        [],
        XA,
        YA,
        True,
        "",
    ),
    (
        "peer pods: AND of selectors",
        [anp("a", ingress=(rule(DENY, podp({"team": "a"}, role="db")),))],
        [],
        XA,
        YA,
        True,
        "",
    ),
    (
        "peer pods: AND matches",
        [anp("a", ingress=(rule(DENY, podp({"team": "a"}, role="db")),))],
        [],
        XB,
        YA,
        False,
        ADMIN,
    ),
    (
        "subject pods",
        [anp("a", subject=podp({}, app="b"), ingress=(rule(DENY),))],
        [],
        XA,
        YB,
        False,
        ADMIN,
    ),
    (
        "subject pods miss",
        [anp("a", subject=podp({}, app="b"), ingress=(rule(DENY),))],
        [],
        XA,
        YA,
        True,
        "",
    ),
    (
        "networks match pod IPs",
        [anp("a", egress=(rule(DENY, ClusterPeer(networks=("10.244.0.4/31",))),))],
        [],
        XA,
        YA,
        False,
        ADMIN,
    ),
    (
        "networks miss",
        [anp("a", egress=(rule(DENY, ClusterPeer(networks=("10.244.1.0/24",))),))],
        [],
        XA,
        YA,
        True,
        "",
    ),
    (
        "nodes never match a pod",
        [anp("a", egress=(rule(DENY, ClusterPeer(nodes=ALL)),))],
        [],
        XA,
        YA,
        True,
        "",
    ),
]


@pytest.mark.parametrize(
    ("cluster", "policies", "src", "dst", "ok", "tier"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_tiers(
    cluster: list[ClusterNetworkPolicy],
    policies: list[NetworkPolicy],
    src: Pod,
    dst: Pod,
    ok: bool,
    tier: str,
) -> None:
    v = engine(cluster, policies).verdict(src, dst, 80)
    assert v.allowed == ok, v.reason
    deciding = [d for d in (v.egress, v.ingress) if d.tier] or [v.ingress]
    if not ok:
        deciding = [d for d in (v.egress, v.ingress) if not d.allowed]
    assert deciding[0].tier == tier, v.reason


def test_egress_accept_still_faces_destination_ingress() -> None:
    e = engine([anp("out", egress=(rule(ACCEPT),)), anp("in", 20, ingress=(rule(DENY),))])
    v = e.verdict(XA, YA, 80)
    assert v.egress.allowed and v.egress.tier == ADMIN
    assert not v.allowed and v.ingress.decided_by is not None
    assert v.ingress.decided_by.policy == "AdminNetworkPolicy/in"


def test_pass_chain_is_recorded() -> None:
    cluster = [anp("x", ingress=(rule(ACCEPT, nsp(team="c")), rule(PASS, name="to-np")))]
    v = engine(cluster, [NP_ALLOW_XB]).verdict(XB, YA, 80)
    assert v.allowed and v.ingress.tier == "NetworkPolicy"
    assert v.ingress.passed == (
        ClusterRuleRef("AdminNetworkPolicy/x", ADMIN, 10, "ingress", 1, "to-np", PASS),
    )
    assert v.ingress.allowed_by == (RuleRef("y/allow-xb", "ingress", 0),)
    assert v.reason.startswith(
        "allowed: x/b not isolated for egress; AdminNetworkPolicy/x ingress rule #1 (to-np)"
        " [Admin, Pass] passed; ingress allowed by y/allow-xb ingress rule #0"
    )


@pytest.mark.parametrize(
    ("port", "dst", "proto", "ok"),
    [
        (ClusterPort("TCP", 80), YA, "TCP", False),
        (ClusterPort("TCP", 81), YA, "TCP", True),
        (ClusterPort("UDP", 80), YA, "TCP", True),  # protocol must be equal
        (ClusterPort("TCP", 70, 90), YA, "TCP", False),  # range, inclusive
        (ClusterPort("TCP", 81, 90), YA, "TCP", True),
        (ClusterPort("TCP"), YA, "TCP", False),  # every TCP port
        (ClusterPort(None, named_port="http"), YA, "TCP", False),  # http = 80 on y/a
        (ClusterPort(None, named_port="http"), YB, "TCP", True),  # http = 8080 on y/b
        (ClusterPort(None, named_port="dns"), YA, "TCP", True),  # dns is UDP
    ],
)
def test_ports(port: ClusterPort, dst: Pod, proto: str, ok: bool) -> None:
    for direction in ("ingress", "egress"):
        r = (rule(DENY, ports=(port,)),)
        cluster = [anp("p", ingress=r) if direction == "ingress" else anp("p", egress=r)]
        assert engine(cluster).verdict(XA, dst, 80, proto).allowed == ok, direction


def test_named_port_never_matches_a_non_pod() -> None:
    cluster = [
        anp(
            "p",
            egress=(
                rule(
                    DENY,
                    ClusterPeer(networks=("0.0.0.0/0",)),
                    ports=(ClusterPort(None, named_port="http"),),
                ),
            ),
        )
    ]
    assert engine(cluster).verdict(XA, "192.0.2.1", 80).allowed
    assert not engine(cluster).verdict(XA, YA, 80).allowed


def test_node_peers_select_node_addresses_by_label() -> None:
    nodes = (
        Node("n0", {"role": "control"}, "10.244.0.0/24", "172.18.0.2"),
        Node("n1", {"role": "worker"}, "10.244.1.0/24", "172.18.0.3"),
    )
    cluster = [anp("nodes", egress=(rule(DENY, ClusterPeer(nodes=sel(role="control"))),))]
    e = engine(cluster, nodes=nodes)
    v = e.verdict(XA, "172.18.0.2", 6443)
    assert not v.allowed and v.egress.tier == ADMIN
    assert e.verdict(XA, "172.18.0.3", 6443).allowed
    assert e.verdict(XA, "192.0.2.1", 6443).allowed


def test_networks_match_outside_addresses() -> None:
    cluster = [anp("out", egress=(rule(DENY, ClusterPeer(networks=("192.0.2.0/24",))),))]
    assert not engine(cluster).verdict(XA, "192.0.2.1", 443).allowed
    assert engine(cluster).verdict(XA, "198.51.100.1", 443).allowed


def test_equal_priority_conflict_is_flagged() -> None:
    a = anp("a", 7, ingress=(rule(ACCEPT),))
    b = anp("b", 7, ingress=(rule(DENY),))
    c = anp("c", 7, ingress=(rule(ACCEPT),))  # agrees with the winner: no flag
    v = engine([b, c, a]).verdict(XA, YA, 80)
    assert v.allowed and v.ingress.decided_by is not None
    assert v.ingress.decided_by.policy == "AdminNetworkPolicy/a"
    assert [r.policy for r in v.ingress.conflicts] == ["AdminNetworkPolicy/b"]
    assert "implementation-defined upstream" in v.reason
    # a different priority is no conflict
    assert (
        engine([a, anp("b", 8, ingress=(rule(DENY),))]).verdict(XA, YA, 80).ingress.conflicts == ()
    )


def test_kind_orders_equal_priorities() -> None:
    anp_deny = anp("z", 3, ingress=(rule(DENY),))
    cnp_accept = anp("a", 3, ingress=(rule(ACCEPT),), kind="ClusterNetworkPolicy")
    v = engine([cnp_accept, anp_deny]).verdict(XA, YA, 80)
    assert not v.allowed  # AdminNetworkPolicy < ClusterNetworkPolicy
    assert v.ingress.conflicts[0].policy == "ClusterNetworkPolicy/a"


def test_a_pod_always_reaches_itself() -> None:
    cluster = [anp("deny", ingress=(rule(DENY),), egress=(rule(DENY),))]
    v = engine(cluster, [NP_DENY_ALL]).verdict(YA, YA, 80)
    assert v.allowed and "cannot block access to itself" in v.reason
    np_only = PolicyEngine(NAMESPACES, PODS, [NP_DENY_ALL]).verdict(YA, "10.244.0.4", 80)
    assert np_only.allowed


def test_no_cluster_policies_keeps_network_policy_text() -> None:
    plain = PolicyEngine(NAMESPACES, PODS, [NP_DENY_ALL]).verdict(XA, YA, 80)
    tiered = engine([anp("other", subject=nsp(team="none"), ingress=(rule(DENY),))], [NP_DENY_ALL])
    assert tiered.verdict(XA, YA, 80) == plain


V1 = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: tenants}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {team: b}}}
  ingress:
    - {name: same-team, action: Pass, from: [{namespaces: {matchLabels: {team: b}}}]}
    - name: dns-and-web
      action: Allow
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
      ports: [{namedPort: http}, {portRange: {protocol: UDP, start: 50, end: 60}}]
    - {name: rest, action: Deny, from: [{namespaces: {}}]}
  egress:
    - {name: no-x, action: Deny, to: [{networks: [10.244.0.2/31]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{name: default-deny, action: Deny, from: [{namespaces: {}}]}]
"""

V2 = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: tenants}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {team: b}}}
  ingress:
    - {name: same-team, action: Pass, from: [{namespaces: {matchLabels: {team: b}}}]}
    - name: dns-and-web
      action: Accept
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
      protocols:
        - destinationNamedPort: http
        - udp: {destinationPort: {range: {start: 50, end: 60}}}
    - {name: rest, action: Deny, from: [{namespaces: {}}]}
  egress:
    - {name: no-x, action: Deny, to: [{networks: [10.244.0.2/31]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress: [{name: default-deny, action: Deny, from: [{namespaces: {}}]}]
"""


def test_v1alpha1_and_v1alpha2_from_yaml_judge_alike() -> None:
    """The same intent in both API versions: the same verdict on every pair and port
    (the reasons differ only in the kind named)."""
    got = []
    for text in (V1, V2):
        cluster = from_documents(parse_text(text, "tiers.yaml")).cluster_policies
        e = engine(list(cluster), [NP_ALLOW_XB])
        got.append(
            [
                (s.key, d.key, port, proto, e.verdict(s, d, port, proto).allowed)
                for s in PODS
                for d in PODS
                for port, proto in ((80, "TCP"), (8080, "TCP"), (53, "UDP"), (81, "TCP"))
            ]
        )
    assert got[0] == got[1]
    table = {(s, d, port, proto): ok for s, d, port, proto, ok in got[0]}
    assert table[("x/a", "y/a", 80, "TCP")]  # Admin Allow: named port http = 80 on y/a
    assert not table[("x/a", "y/a", 81, "TCP")]  # Admin Deny (rest)
    assert table[("x/a", "y/b", 8080, "TCP")]  # http = 8080 on y/b
    assert table[("z/a", "y/a", 53, "UDP")]  # range 50-60/UDP
    assert table[("x/b", "y/a", 81, "TCP")] is False  # NP allows x/b but Admin Deny decides
    assert table[("y/b", "y/a", 81, "TCP")] is False  # Pass; NP isolates y/a, y/b not in it
    assert not table[("y/a", "x/a", 80, "TCP")]  # egress Deny to 10.244.0.2/31
    assert not table[("z/a", "x/b", 80, "TCP")]  # Baseline default deny (x/b not isolated)
