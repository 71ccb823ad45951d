"""Pure tests of the NetworkPolicy compiler and its sync: golden text, fake runner."""

# ruff: noqa: E501  (golden nft text is kept one line per command)

from __future__ import annotations

from dataclasses import replace

import pytest

from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.policy.compile import (
    FAMILY,
    TABLE,
    PolicyCompileError,
    compile_policies,
    policy_states,
)
from podnet.dataplane.policy.match import block_ranges, port_match, range_text
from podnet.dataplane.policy.sync import PolicyProxy, diff, full_transaction
from podnet.errors import ManifestError, NftError, PodnetError
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
from podnet.model.selectors import EMPTY, LabelSelector, Requirement


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.from_labels(labels)


def pod(ns: str, name: str, ip: str, node: str, *ports: ContainerPort, **labels: str) -> Pod:
    return Pod(ns, name, dict(labels), (Container("c", "x", ports=ports),), ip=ip, node=node)


WEB = pod("default", "web", "10.244.0.2", "node-0", ContainerPort(8080, name="http"), app="web")
CLI = pod("default", "cli", "10.244.1.2", "node-1", app="cli")
NS = (Namespace("default", {"kubernetes.io/metadata.name": "default"}),)
ALLOW_CLI = NetworkPolicy(
    "default",
    "allow-cli",
    sel(app="web"),
    ("Ingress",),
    ingress=(
        PolicyRule(
            ports=(PolicyPort(port="http"), PolicyPort("UDP", 53)),
            peers=(
                PolicyPeer(pod_selector=sel(app="cli")),
                PolicyPeer(ip_block=IPBlock("10.0.0.0/8", ("10.244.0.0/16",))),
            ),
        ),
    ),
)


def state(*policies: NetworkPolicy, pods: tuple[Pod, ...] = (WEB, CLI)) -> ClusterState:
    return ClusterState((), NS, pods, (), policies)


GOLDEN = """\
add table inet podnet-policy
delete table inet podnet-policy
add table inet podnet-policy
add set inet podnet-policy self { type ipv4_addr . ipv4_addr; }
add map inet podnet-policy ingress-pods { type ipv4_addr : verdict; }
add map inet podnet-policy egress-pods { type ipv4_addr : verdict; }
add set inet podnet-policy pods-2D76Z2EQ-default { type ipv4_addr; }
add set inet podnet-policy cidr-GLJ4GP66-10-0-0-0 { type ipv4_addr; flags interval; }
add set inet podnet-policy port-tcp-http { type ipv4_addr . inet_proto . inet_service; }
add set inet podnet-policy denied { type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags dynamic,timeout; timeout 3600s; size 65536; }
add set inet podnet-policy denied-flows { type ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service; flags dynamic,timeout; timeout 120s; size 65536; }
add chain inet podnet-policy deny
add chain inet podnet-policy pol-in-RDMONO3D-default-allow-cli
add chain inet podnet-policy baseline-eg
add chain inet podnet-policy np-eg
add chain inet podnet-policy baseline-in
add chain inet podnet-policy np-in
add chain inet podnet-policy admin-eg
add chain inet podnet-policy admin-in
add chain inet podnet-policy set-in-RDMONO3D-default
add chain inet podnet-policy egress { type filter hook forward priority filter; policy accept; }
add chain inet podnet-policy ingress { type filter hook forward priority filter + 1; policy accept; }
add rule inet podnet-policy deny ct state new meta l4proto { tcp, udp, sctp } ip saddr . ip daddr . meta l4proto . th sport . th dport != @denied-flows update @denied { ip saddr . ip daddr . meta l4proto . th dport counter }
add rule inet podnet-policy deny ct state new meta l4proto { tcp, udp, sctp } update @denied-flows { ip saddr . ip daddr . meta l4proto . th sport . th dport }
add rule inet podnet-policy deny counter drop
add rule inet podnet-policy pol-in-RDMONO3D-default-allow-cli ip saddr @pods-2D76Z2EQ-default meta l4proto udp th dport { 53 } accept
add rule inet podnet-policy pol-in-RDMONO3D-default-allow-cli ip saddr @pods-2D76Z2EQ-default ip daddr . meta l4proto . th dport @port-tcp-http accept
add rule inet podnet-policy pol-in-RDMONO3D-default-allow-cli ip saddr @cidr-GLJ4GP66-10-0-0-0 meta l4proto udp th dport { 53 } accept
add rule inet podnet-policy pol-in-RDMONO3D-default-allow-cli ip saddr @cidr-GLJ4GP66-10-0-0-0 ip daddr . meta l4proto . th dport @port-tcp-http accept
add rule inet podnet-policy baseline-eg accept
add rule inet podnet-policy np-eg ip saddr vmap @egress-pods
add rule inet podnet-policy np-eg goto baseline-eg
add rule inet podnet-policy baseline-in accept
add rule inet podnet-policy np-in ip daddr vmap @ingress-pods
add rule inet podnet-policy np-in goto baseline-in
add rule inet podnet-policy set-in-RDMONO3D-default jump pol-in-RDMONO3D-default-allow-cli comment "default/allow-cli"
add rule inet podnet-policy set-in-RDMONO3D-default goto deny
add rule inet podnet-policy egress ct state established,related accept
add rule inet podnet-policy egress ip saddr . ip daddr @self accept
add rule inet podnet-policy egress jump admin-eg
add rule inet podnet-policy egress goto np-eg
add rule inet podnet-policy ingress ct state established,related accept
add rule inet podnet-policy ingress ip saddr . ip daddr @self accept
add rule inet podnet-policy ingress jump admin-in
add rule inet podnet-policy ingress goto np-in
add element inet podnet-policy self { 10.244.0.2 . 10.244.0.2 }
add element inet podnet-policy ingress-pods { 10.244.0.2 : goto set-in-RDMONO3D-default }
add element inet podnet-policy pods-2D76Z2EQ-default { 10.244.1.2 }
add element inet podnet-policy cidr-GLJ4GP66-10-0-0-0 { 10.0.0.0-10.243.255.255, 10.245.0.0-10.255.255.255 }
add element inet podnet-policy port-tcp-http { 10.244.0.2 . tcp . 8080 }
"""


def test_golden_full_transaction() -> None:
    assert full_transaction(compile_policies(state(ALLOW_CLI), "node-0")).render() == GOLDEN


def test_other_node_has_the_policy_chains_but_no_local_isolation() -> None:
    ps = compile_policies(state(ALLOW_CLI), "node-1")
    assert ps.elements["ingress-pods"] == {} and ps.elements["egress-pods"] == {}
    assert ps.elements["self"] == {"10.244.1.2 . 10.244.1.2": None}
    assert "pol-in-RDMONO3D-default-allow-cli" in ps.chains
    assert not [c for c in ps.chains if c.startswith("set-")]


def test_reject_mode_and_unknown_mode() -> None:
    ps = compile_policies(state(ALLOW_CLI), "node-0", deny="reject")
    assert ps.chains["deny"].rules[2:] == (  # after the two counting rules, as with drop
        "meta l4proto tcp counter reject with tcp reset",
        "counter reject with icmpx admin-prohibited",
    )
    assert (
        ps.chains["deny"].rules[:2] == compile_policies(state(), "node-0").chains["deny"].rules[:2]
    )
    with pytest.raises(PolicyCompileError):
        compile_policies(state(), "node-0", deny="ignore")
    assert issubclass(PolicyCompileError, PodnetError)


def test_empty_ingress_list_denies_and_empty_rule_allows_everything() -> None:
    deny = NetworkPolicy("default", "deny", EMPTY, ("Ingress", "Egress"))
    allow = NetworkPolicy("default", "all", EMPTY, ("Ingress",), ingress=(PolicyRule(),))
    ps = compile_policies(state(deny, allow), "node-0")
    chains = {n: c.rules for n, c in ps.chains.items()}
    pol = [n for n in chains if n.startswith("pol-")]
    assert sorted(chains[n] for n in pol) == [(), (), ("accept",)]
    ingress_set = ps.elements["ingress-pods"]["10.244.0.2"]
    egress_set = ps.elements["egress-pods"]["10.244.0.2"]
    assert ingress_set is not None and egress_set is not None
    assert len(chains[ingress_set.removeprefix("goto ")]) == 3  # two jumps + goto deny
    assert len(chains[egress_set.removeprefix("goto ")]) == 2


def test_policy_types_limit_what_is_compiled() -> None:
    # egress rules present but policyTypes only Ingress: egress is ignored (types.go)
    pol = NetworkPolicy("default", "p", EMPTY, ("Ingress",), egress=(PolicyRule(),))
    ps = compile_policies(state(pol), "node-0")
    assert not [c for c in ps.chains if c.startswith("pol-eg-")]
    assert ps.elements["egress-pods"] == {}


def test_peer_selectors_and_namespace_defaults() -> None:
    other = pod("team-x", "x", "10.244.0.9", "node-0", app="cli")
    expr = LabelSelector(match_expressions=(Requirement("app", "In", ("cli", "web")),))
    pol = NetworkPolicy(
        "default",
        "p",
        sel(app="web"),
        ("Ingress",),
        ingress=(
            PolicyRule(peers=(PolicyPeer(pod_selector=sel(app="cli")),)),  # own namespace only
            PolicyRule(
                peers=(
                    PolicyPeer(namespace_selector=sel(**{"kubernetes.io/metadata.name": "team-x"})),
                )
            ),
            PolicyRule(peers=(PolicyPeer(namespace_selector=EMPTY, pod_selector=expr),)),
        ),
    )
    ps = compile_policies(state(pol, pods=(WEB, CLI, other)), "node-0")
    sets = [
        ps.elements[r.split("@")[1].split()[0]]
        for r in ps.chains[next(c for c in ps.chains if c.startswith("pol-"))].rules
    ]
    assert [sorted(s) for s in sets] == [
        ["10.244.1.2"],
        ["10.244.0.9"],  # undeclared namespace still has its name label
        ["10.244.0.2", "10.244.0.9", "10.244.1.2"],
    ]


def test_block_ranges_merge_and_except() -> None:
    blocks = [IPBlock("10.0.0.0/24", ("10.0.0.128/25", "10.0.0.0/32")), IPBlock("10.0.0.200/29")]
    got = [range_text(lo, hi) for lo, hi in block_ranges(blocks)]
    assert got == ["10.0.0.1-10.0.0.127", "10.0.0.200-10.0.0.207"]
    assert [range_text(*r) for r in block_ranges([IPBlock("0.0.0.0/0")])] == [
        "0.0.0.0-255.255.255.255"
    ]
    assert block_ranges([IPBlock("fd00::/8")]) == []
    with pytest.raises(ManifestError):
        block_ranges([IPBlock("10.0.0.300/8")])


def test_port_match_groups_by_protocol() -> None:
    pm = port_match(
        (
            PolicyPort("TCP", 80),
            PolicyPort("TCP", 8000, 8100),
            PolicyPort("TCP", 8050),
            PolicyPort("UDP", None),
            PolicyPort("UDP", "dns"),
            PolicyPort("SCTP", "x"),
        )
    )
    assert pm.numbered == ("meta l4proto udp", "meta l4proto tcp th dport { 80, 8000-8100 }")
    assert pm.named == (("sctp", "x"),)  # udp "dns" is subsumed by "every UDP port"


def test_fake_runner_accepts_full_and_diffs_back_and_forth() -> None:
    fake = FakeNft()
    a = compile_policies(state(ALLOW_CLI), "node-0")
    b = compile_policies(state(), "node-0")
    fake.run(full_transaction(a))
    snap_a = fake.snapshot()
    fake.run(diff(a, b))
    fresh = FakeNft()
    fresh.run(full_transaction(b))
    assert fake.snapshot() == fresh.snapshot()
    fake.run(diff(b, a))
    assert fake.snapshot() == snap_a


def test_pod_add_and_label_change_are_element_ops_only() -> None:
    proxy = PolicyProxy(FakeNft())
    proxy.sync(compile_policies(state(ALLOW_CLI), "node-0"))
    web2 = pod(
        "default", "web2", "10.244.0.3", "node-0", ContainerPort(8081, name="http"), app="web"
    )
    tx = diff(
        proxy.applied or compile_policies(state(), "node-0"),
        compile_policies(state(ALLOW_CLI, pods=(WEB, CLI, web2)), "node-0"),
    )
    assert {k for k in tx.counts()} == {("add", "element")}
    assert tx.counts()[("add", "element")] == 3  # self, ingress-pods, port-tcp-http
    proxy.sync(compile_policies(state(ALLOW_CLI, pods=(WEB, CLI, web2)), "node-0"))
    cli2 = replace(CLI, labels={"app": "other"})
    new = compile_policies(state(ALLOW_CLI, pods=(WEB, cli2, web2)), "node-0")
    assert proxy.applied is not None
    tx = diff(proxy.applied, new)
    assert dict(tx.counts()) == {("delete", "element"): 1}
    assert proxy.sync(new) == 1 and proxy.full_syncs == 1


class FailOnce(FakeNft):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    def run(self, tx: Transaction) -> None:
        if self.fail_next:
            self.fail_next = False
            raise NftError(["fake"], 1, "boom")
        super().run(tx)


def test_failed_partial_sync_falls_back_to_full_sync() -> None:
    fake = FailOnce()
    proxy = PolicyProxy(fake)
    proxy.sync(compile_policies(state(ALLOW_CLI), "node-0"))
    fake.fail_next = True
    new = compile_policies(state(), "node-0")
    proxy.sync(new)
    assert (proxy.full_syncs, proxy.failed_syncs) == (2, 1) and proxy.applied == new
    assert isinstance(proxy.last_error, NftError)
    fresh = FakeNft()
    fresh.run(full_transaction(new))
    assert fake.snapshot() == fresh.snapshot()


def test_remove_deletes_the_table() -> None:
    fake = FakeNft()
    proxy = PolicyProxy(fake)
    proxy.sync(compile_policies(state(ALLOW_CLI), "node-0"))
    proxy.remove()
    assert (FAMILY, TABLE) not in fake.tables and proxy.applied is None
    proxy.remove()  # idempotent


def test_policy_states_share_work_and_equal_per_node_compiles() -> None:
    st = replace(state(ALLOW_CLI), nodes=())
    both = policy_states(st, ["node-0", "node-1"], deny="reject")
    assert both == {n: compile_policies(st, n, deny="reject") for n in ("node-0", "node-1")}
    with pytest.raises(PolicyCompileError):
        policy_states(st, ["node-0"], deny="nope")


def test_odd_port_names_are_hashed_not_pasted_into_nft() -> None:
    from podnet.dataplane.nft.names import is_generated
    from podnet.dataplane.policy.match import named_port_set

    assert named_port_set("tcp", "http-alt") == "port-tcp-http-alt"
    odd = named_port_set("tcp", 'a"; flush ruleset')
    assert odd == "port-tcp-FM5HULW3-a-flush-ruleset" and is_generated(odd)
