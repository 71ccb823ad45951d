"""The class-based matrix must agree with the per-connection engine on every pair.

Random clusters (hypothesis) cover selectors, namespace selectors, AND/OR peers,
ipBlocks with excepts on pod IPs, named/numeric/range ports and protocols; and, mixed
with them, the cluster admin's tiers (Admin and Baseline policies of few priorities, so
that equal-priority conflicts and Pass chains are common).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podnet.analyze.classes import LabelIndex
from podnet.analyze.matrix import compute_matrix
from podnet.control.policy.engine import PolicyEngine
from podnet.control.served import image_name, served_ports
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
    Service,
    ServicePort,
)
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import (
    ACTIONS,
    ADMIN,
    BASELINE,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
    PodsIn,
)

NAMESPACES = ("x", "y", "z")
KEYS = ("app", "tier", "env")
VALUES = ("a", "b", "c")
PORT_CHOICES = (
    ContainerPort(80, "TCP", "http"),
    ContainerPort(81, "TCP", "http"),
    ContainerPort(53, "UDP", "dns"),
    ContainerPort(8080, "TCP", "alt"),
    ContainerPort(9000, "SCTP", "sctp"),
)

labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
requirement_st = st.one_of(
    st.builds(
        Requirement,
        st.sampled_from(KEYS),
        st.sampled_from(("In", "NotIn")),
        st.lists(st.sampled_from(VALUES), min_size=1, max_size=2).map(tuple),
    ),
    st.builds(Requirement, st.sampled_from(KEYS), st.sampled_from(("Exists", "DoesNotExist"))),
)
selector_st = st.builds(
    LabelSelector,
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2).map(
        lambda d: tuple(sorted(d.items()))
    ),
    st.lists(requirement_st, max_size=2).map(tuple),
)
ns_selector_st = st.one_of(
    st.just(LabelSelector()),
    st.sampled_from(NAMESPACES).map(
        lambda n: LabelSelector.from_labels({"kubernetes.io/metadata.name": n})
    ),
    st.sampled_from(VALUES).map(lambda v: LabelSelector.from_labels({"team": v})),
)
block_st = st.builds(
    lambda host, plen, exc: IPBlock(
        f"10.244.0.{host}/{plen}", (f"10.244.0.{exc}/32",) if exc is not None else ()
    ),
    st.integers(2, 20),
    st.sampled_from((24, 28, 30, 32)),
    st.one_of(st.none(), st.integers(2, 20)),
)
peer_st = st.one_of(
    st.builds(PolicyPeer, pod_selector=selector_st),
    st.builds(PolicyPeer, namespace_selector=ns_selector_st),
    st.builds(PolicyPeer, pod_selector=selector_st, namespace_selector=ns_selector_st),
    st.builds(PolicyPeer, ip_block=block_st),
)
policy_port_st = st.one_of(
    st.builds(PolicyPort, st.sampled_from(("TCP", "UDP", "SCTP"))),
    st.builds(PolicyPort, st.sampled_from(("TCP", "UDP")), st.sampled_from((80, 81, 53, 8080))),
    st.builds(PolicyPort, st.just("TCP"), st.just(80), st.sampled_from((81, 8080))),
    st.builds(PolicyPort, st.sampled_from(("TCP", "UDP")), st.sampled_from(("http", "dns", "alt"))),
)
rule_st = st.builds(
    PolicyRule,
    st.lists(policy_port_st, max_size=2).map(tuple),
    st.lists(peer_st, max_size=2).map(tuple),
)


@st.composite
def clusters(draw: st.DrawFn) -> ClusterState:
    namespaces = tuple(
        Namespace(n, {"kubernetes.io/metadata.name": n, "team": draw(st.sampled_from(VALUES))})
        for n in NAMESPACES
    )
    n_pods = draw(st.integers(1, 12))
    pods = []
    for i in range(n_pods):
        ports = draw(
            st.lists(st.sampled_from(PORT_CHOICES), max_size=2, unique_by=lambda p: p.name)
        )
        image = draw(st.sampled_from(("busybox", "docker.io/library/nginx:1.25")))
        pods.append(
            Pod(
                draw(st.sampled_from(NAMESPACES)),
                f"p{i}",
                draw(labels_st),
                (Container("c", image, ports=tuple(ports)),),
                ip=f"10.244.0.{i + 2}",
                node="node-0",
            )
        )
    services = (
        Service("x", "web", selector={"app": "a"}, ports=(ServicePort(80, "http"),)),
        Service("y", "num", selector={"tier": "b"}, ports=(ServicePort(80, 8081),)),
    )
    policies = []
    for j in range(draw(st.integers(0, 5))):
        types = draw(st.sampled_from((("Ingress",), ("Egress",), ("Ingress", "Egress"))))
        policies.append(
            NetworkPolicy(
                draw(st.sampled_from(NAMESPACES)),
                f"np{j}",
                draw(selector_st),
                types,
                tuple(draw(st.lists(rule_st, max_size=2))),
                tuple(draw(st.lists(rule_st, max_size=2))),
            )
        )
    return ClusterState((), namespaces, tuple(pods), services, tuple(policies))


cluster_subject_st = st.one_of(
    st.builds(ClusterPeer, namespaces=ns_selector_st),
    st.builds(ClusterPeer, pods=st.builds(PodsIn, ns_selector_st, selector_st)),
)
cluster_peer_st = st.one_of(
    cluster_subject_st,
    st.builds(
        ClusterPeer,
        networks=st.lists(
            st.builds(
                lambda h, p: f"10.244.0.{h}/{p}", st.integers(2, 14), st.sampled_from((28, 30, 32))
            ),
            min_size=1,
            max_size=2,
        ).map(tuple),
    ),
    st.builds(ClusterPeer, nodes=selector_st),
)
cluster_port_st = st.one_of(
    st.builds(ClusterPort, st.sampled_from(("TCP", "UDP", "SCTP"))),
    st.builds(ClusterPort, st.sampled_from(("TCP", "UDP")), st.sampled_from((80, 81, 53, 8080))),
    st.builds(ClusterPort, st.just("TCP"), st.just(80), st.sampled_from((81, 8080))),
    st.builds(lambda n: ClusterPort(None, named_port=n), st.sampled_from(("http", "dns", "alt"))),
)
cluster_rule_st = st.builds(
    ClusterRule,
    st.sampled_from(ACTIONS),
    st.lists(cluster_peer_st, min_size=1, max_size=2).map(tuple),
    st.lists(cluster_port_st, max_size=2).map(tuple),
)


@st.composite
def tiered_clusters(draw: st.DrawFn) -> ClusterState:
    """A random cluster with Admin and Baseline policies mixed in."""
    state = draw(clusters())
    cluster = []
    for j in range(draw(st.integers(1, 5))):
        tier = draw(st.sampled_from((ADMIN, ADMIN, BASELINE)))
        cluster.append(
            ClusterNetworkPolicy(
                f"c{j}",
                tier,
                draw(st.sampled_from((1, 2))),
                draw(cluster_subject_st),
                tuple(draw(st.lists(cluster_rule_st, max_size=3))),
                tuple(draw(st.lists(cluster_rule_st, max_size=3))),
                kind=draw(st.sampled_from(("AdminNetworkPolicy", "ClusterNetworkPolicy"))),
            )
        )
    return ClusterState(
        state.nodes,
        state.namespaces,
        state.pods,
        state.services,
        state.policies,
        cluster_policies=tuple(cluster),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiered_clusters())
def test_tiered_matrix_agrees_with_engine(state: ClusterState) -> None:
    """Admin -> NetworkPolicy -> Baseline: same verdict and reason for every connection."""
    _agrees(state)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_matrix_agrees_with_engine(state: ClusterState) -> None:
    _agrees(state)


def _agrees(state: ClusterState) -> None:
    matrix = compute_matrix(state)
    engine = PolicyEngine.of_state(state)
    conns = list(matrix.connections())
    n = len(state.pods)
    expected_total = sum(len(served_ports(d, state.services)) for d in state.pods) * (n - 1)
    assert len(conns) == expected_total
    allowed = 0
    for c in conns:
        v = engine.verdict(c.src, c.dst, c.port, c.protocol)
        assert c.allowed == v.allowed, (c, v.reason)
        assert c.reason == v.reason
        assert matrix.verdict(c.src, c.dst, c.port, c.protocol) == v
        allowed += c.allowed
    assert matrix.counts() == (expected_total, allowed)


@given(st.lists(labels_st, min_size=1, max_size=10), selector_st)
def test_label_index_agrees_with_selector(labels: list[dict[str, str]], sel: LabelSelector) -> None:
    bits = LabelIndex(labels).bits(sel)
    for i, lab in enumerate(labels):
        assert bool(bits >> i & 1) == sel.matches(lab)


def test_image_name() -> None:
    assert image_name("docker.io/library/nginx:1.25") == "nginx"
    assert image_name("nginx") == "nginx"
    assert image_name("registry:5000/team/nginx@sha256:abc") == "nginx"


def test_pending_pods_are_left_out() -> None:
    a = Pod("x", "a", {}, (Container("c", "nginx"),), ip="10.244.0.2")
    b = Pod("x", "b", {}, (Container("c", "nginx"),))
    m = compute_matrix(ClusterState((), (), (a, b), (), ()))
    assert [p.key for p in m.pods] == ["x/a"]
    assert list(m.connections()) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.data())
def test_subset_of_pods_agrees_with_engine(state: ClusterState, data: st.DataObject) -> None:
    """Judging only some pods (``analyze`` without --all) changes no verdict."""
    subset = data.draw(st.lists(st.sampled_from(state.pods), unique_by=lambda p: p.key))
    matrix = compute_matrix(state, subset)
    engine = PolicyEngine(state.namespaces, state.pods, state.policies)
    assert {p.key for p in matrix.pods} == {p.key for p in subset}
    for c in matrix.connections():
        assert c.allowed == engine.verdict(c.src, c.dst, c.port, c.protocol).allowed
