"""The compiled policy tables, traced, against the engine (a differential test).

The tracer (support.nft_trace) follows the FIRST packet of a connection (ct state
new) through the forward hook: base chains in priority order, ``accept`` ends one base
chain, a drop/reject ends everything. The differential test generates small clusters
and checks that, for every pod pair and a few ports, "the source's node and the
destination's node both let the packet through" equals
:meth:`podnet.control.policy.engine.PolicyEngine.verdict` - the two implementations share
nothing but :meth:`LabelSelector.matches`. Self pairs are left out (a pod reaching
itself is always allowed by the table, see nftpol's docstring; the engine does not
special-case it and the upstream truth tables never check it).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from support.nft_trace import Packet, View, fake_view, passes, view_of

from podnet.control.policy.engine import PolicyEngine
from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.policy.compile import compile_policies
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.model.cluster import ClusterState
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
)
from podnet.model.selectors import LabelSelector, Requirement

# -- the differential test ------------------------------------------------------------

KEYS, VALUES = ("app", "tier"), ("a", "b")
NAMESPACES = ("x", "y")
PORTS = (80, 81, 8080)


@hs.composite
def labels(draw: hs.DrawFn) -> dict[str, str]:
    return draw(hs.dictionaries(hs.sampled_from(KEYS), hs.sampled_from(VALUES), max_size=2))


@hs.composite
def selectors(draw: hs.DrawFn) -> LabelSelector:
    ml = tuple(sorted(draw(labels()).items()))
    exprs = draw(
        hs.lists(
            hs.builds(
                Requirement,
                hs.sampled_from(KEYS),
                hs.sampled_from(("In", "NotIn", "Exists", "DoesNotExist")),
                hs.just(VALUES[:1]),
            ),
            max_size=1,
        )
    )
    fixed = tuple(
        r if r.operator in ("In", "NotIn") else Requirement(r.key, r.operator) for r in exprs
    )
    return LabelSelector(ml, fixed)


@hs.composite
def peers(draw: hs.DrawFn) -> PolicyPeer:
    kind = draw(hs.sampled_from(("pod", "ns", "both", "block")))
    if kind == "block":
        cidr = draw(
            hs.sampled_from(("10.244.0.0/16", "10.244.1.0/24", "10.244.0.0/30", "0.0.0.0/0"))
        )
        exc = draw(
            hs.lists(
                hs.sampled_from(("10.244.0.2/32", "10.244.1.0/25", "10.244.0.4/31")), max_size=2
            )
        )
        return PolicyPeer(ip_block=IPBlock(cidr, tuple(exc)))
    pod_sel = draw(selectors()) if kind in ("pod", "both") else None
    ns_sel = draw(selectors()) if kind in ("ns", "both") else None
    return PolicyPeer(pod_selector=pod_sel, namespace_selector=ns_sel)


@hs.composite
def ports(draw: hs.DrawFn) -> PolicyPort:
    proto = draw(hs.sampled_from(("TCP", "UDP", "SCTP")))
    kind = draw(hs.sampled_from(("num", "range", "name", "all")))
    if kind == "num":
        return PolicyPort(proto, draw(hs.sampled_from(PORTS)))
    if kind == "range":
        return PolicyPort(proto, 80, draw(hs.sampled_from((81, 8080))))
    if kind == "name":
        return PolicyPort(proto, draw(hs.sampled_from(("http", "alt"))))
    return PolicyPort(proto)


rules = hs.builds(
    PolicyRule, hs.lists(ports(), max_size=2).map(tuple), hs.lists(peers(), max_size=2).map(tuple)
)


@hs.composite
def policies(draw: hs.DrawFn, i: int) -> NetworkPolicy:
    types = draw(hs.sampled_from((("Ingress",), ("Egress",), ("Ingress", "Egress"))))
    return NetworkPolicy(
        draw(hs.sampled_from(NAMESPACES)),
        f"p{i}",
        draw(selectors()),
        types,
        ingress=tuple(draw(hs.lists(rules, max_size=2))),
        egress=tuple(draw(hs.lists(rules, max_size=2))),
    )


@hs.composite
def clusters(draw: hs.DrawFn) -> ClusterState:
    pods = []
    for i in range(draw(hs.integers(2, 5))):
        node = i % 2
        named = draw(
            hs.sampled_from(
                (
                    (),
                    (ContainerPort(8080, name="http"),),
                    (ContainerPort(80, name="http"), ContainerPort(81, "UDP", "alt")),
                )
            )
        )
        pods.append(
            Pod(
                draw(hs.sampled_from(NAMESPACES)),
                f"p{i}",
                draw(labels()),
                (Container("c", "x", ports=named),),
                ip=f"10.244.{node}.{i + 2}",
                node=f"node-{node}",
            )
        )
    nss = tuple(
        Namespace(n, {**draw(labels()), "kubernetes.io/metadata.name": n}) for n in NAMESPACES
    )
    pols = tuple(draw(policies(i)) for i in range(draw(hs.integers(0, 3))))
    return ClusterState((), nss, tuple(pods), (), pols)


def nft_allows(tables: dict[str, View], nodes: dict[str, str], pkt: Packet) -> bool:
    """Both the source's and the destination's node must let the packet through."""
    hops = {nodes[ip] for ip in (pkt.src, pkt.dst) if ip in nodes}
    return all(passes(tables[n], pkt) for n in hops)


def test_tracer_reads_the_fake_as_it_reads_the_table() -> None:
    pod = Pod("x", "p", {}, (Container("c", "x"),), ip="10.244.0.2", node="node-0")
    deny = NetworkPolicy("x", "deny", LabelSelector(), ("Ingress",))
    ps = compile_policies(ClusterState((), (), (pod,), (), (deny,)), "node-0")
    fake = FakeNft()
    PolicyProxy(fake).sync(ps)
    assert fake_view(fake, "inet", "podnet-policy") == view_of(ps)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_compiled_tables_agree_with_the_engine(state: ClusterState) -> None:
    tables = {n: view_of(compile_policies(state, n)) for n in ("node-0", "node-1")}
    nodes = {p.ip: p.node for p in state.pods if p.ip and p.node}
    engine = PolicyEngine(state.namespaces, state.pods, state.policies)
    ends = [p.ip for p in state.pods if p.ip] + ["192.168.7.7"]  # plus one outside address
    for src in ends:
        for dst in ends:
            if src == dst or (src not in nodes and dst not in nodes):
                continue
            for proto in ("TCP", "UDP", "SCTP"):
                for port in PORTS:
                    want = engine.verdict(src, dst, port, proto).allowed
                    got = nft_allows(tables, nodes, Packet(src, dst, proto, port))
                    assert got == want, (
                        src,
                        dst,
                        proto,
                        port,
                        engine.verdict(src, dst, port, proto).reason,
                    )


def test_tracer_sees_self_traffic_as_allowed() -> None:
    pod = Pod("x", "p", {}, (Container("c", "x"),), ip="10.244.0.2", node="node-0")
    deny = NetworkPolicy("x", "deny", LabelSelector(), ("Ingress", "Egress"))
    ps = compile_policies(ClusterState((), (), (pod,), (), (deny,)), "node-0")
    assert passes(ps, Packet("10.244.0.2", "10.244.0.2", "TCP", 80))
    assert not passes(ps, Packet("10.244.0.2", "10.244.0.3", "TCP", 80))
