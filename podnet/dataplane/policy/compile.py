"""NetworkPolicies and the cluster admin's tiers as one node's nftables table (pure).

Where and when packets are judged (forward hook, egress then ingress base chain,
established first, self and node traffic allowed) and why the table scales by sets,
not by chains per pod: README.md here. Kubernetes semantics: :mod:`.match`; the
Admin and Baseline tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy): :mod:`.tiers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podnet.dataplane.nft.names import generated_name
from podnet.dataplane.nft.objects import Chain, Set, Table, chains_of, sets_of
from podnet.dataplane.policy.build import FIXED_SETS, SetBuilder
from podnet.dataplane.policy.tiers import TierBuilder, np_chain, tier_chain
from podnet.errors import (  # `X as X`: re-exported, defined in podnet.errors
    PolicyCompileError as PolicyCompileError,
)
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import ADMIN
from podnet.model.objects import NetworkPolicy, Pod

FAMILY = "inet"
TABLE = "podnet-policy"
DENY_MODES = ("drop", "reject")
_DIRS = (("in", "Ingress", "saddr"), ("eg", "Egress", "daddr"))  # short, type, peer field

# Denied connections, counted per (source, destination, protocol, port) in the kernel:
# ``denied`` holds one element per such key whose counter counts connections, and
# ``denied-flows`` remembers the connections already counted by source port, so a
# SYN's retransmissions add nothing. Both are dynamic sets the deny chain fills
# (nft(8) "SET STATEMENT": ``update @set { key counter }``); podnet never writes their
# elements, so syncs and diffs leave them alone. A flow is forgotten 2 minutes after
# its last denied packet (Linux's SYN retries end after 127 s, with at most 64 s
# between two), a key an hour after its last denied connection; a full sync starts
# both afresh. ``size`` bounds their memory: when full, an update does nothing and
# the packet still meets the ``counter`` verdict rule, so the per-node packet count
# stays exact. Only TCP, UDP and SCTP have the ports the key needs (``th dport`` of an
# ICMP packet would be its checksum); ``ct state new`` leaves out invalid packets.
DENIED, DENIED_FLOWS = "denied", "denied-flows"
_PAIR = "ip saddr . ip daddr . meta l4proto . th dport"
_FLOW = "ip saddr . ip daddr . meta l4proto . th sport . th dport"
_COUNTED = "ct state new meta l4proto { tcp, udp, sctp }"
DENIED_SETS: dict[str, Set] = sets_of(
    Set(
        DENIED,
        "ipv4_addr . ipv4_addr . inet_proto . inet_service",
        flags=("dynamic", "timeout"),
        timeout=3600,
        size=65536,
    ),
    Set(
        DENIED_FLOWS,
        "ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service",
        flags=("dynamic", "timeout"),
        timeout=120,
        size=65536,
    ),
)
_COUNT_RULES = (
    f"{_COUNTED} {_FLOW} != @{DENIED_FLOWS} update @{DENIED} {{ {_PAIR} counter }}",
    f"{_COUNTED} update @{DENIED_FLOWS} {{ {_FLOW} }}",
)

_DENY_RULES = {
    "drop": (*_COUNT_RULES, "counter drop"),
    # TCP gets a reset, everything else ICMP admin-prohibited: the client fails at once
    # instead of timing out (iptables-based CNIs use REJECT the same way).
    "reject": (
        *_COUNT_RULES,
        "meta l4proto tcp counter reject with tcp reset",
        "counter reject with icmpx admin-prohibited",
    ),
}


def _base_rules(direction: str) -> tuple[str, ...]:
    """Established first, a pod reaching itself, then the tiers (tiers.py): the Admin
    tier, then ``np-<d>`` (NetworkPolicy, then the Baseline tier, then accept)."""
    return (
        "ct state established,related accept",
        "ip saddr . ip daddr @self accept",
        f"jump {tier_chain(ADMIN, direction)}",
        f"goto {np_chain(direction)}",
    )


_BASE_CHAINS: dict[str, Chain] = chains_of(
    Chain("egress", _base_rules("eg"), "filter", "forward", "filter", "accept"),
    Chain("ingress", _base_rules("in"), "filter", "forward", "filter + 1", "accept"),
)


@dataclass(frozen=True)
class PolicyState:
    """One node's ``inet podnet-policy`` table as data.

    Chains are ordered so that a chain comes after every chain it references (deny,
    policy chains, policy-set chains, base chains); deleting in reverse is safe.
    """

    node: str
    deny: str
    table: Table

    @property
    def sets(self) -> Mapping[str, Set]:
        return self.table.sets

    @property
    def chains(self) -> Mapping[str, Chain]:
        return self.table.chains

    @property
    def elements(self) -> Mapping[str, Mapping[str, str | None]]:
        return self.table.elements


def policy_chain(direction: str, policy: NetworkPolicy) -> str:
    """``pol-in-<HASH>-<namespace>-<name>`` (or ``pol-eg-``)."""
    return generated_name(f"pol-{direction}", policy.key, policy.key)


def _selected(policies: Sequence[NetworkPolicy], pod: Pod, ptype: str) -> list[NetworkPolicy]:
    """Policies isolating ``pod`` for ``ptype`` (``policies``: those of its namespace):
    the type listed in policyTypes (types.go: rules of unlisted types are ignored) and
    the podSelector matching (``{}`` selects every pod of the namespace)."""
    return [p for p in policies if ptype in p.policy_types and p.pod_selector.matches(pod.labels)]


@dataclass(frozen=True)
class _Shared:
    """What every node's table has in common: policy chains, peer and port sets."""

    sets: dict[str, Set]
    elements: dict[str, dict[str, str | None]]
    chains: dict[str, Chain]
    by_ns: dict[str, list[NetworkPolicy]]
    tiers: TierBuilder


def _shared(state: ClusterState) -> _Shared:
    b = SetBuilder(state)
    policies = sorted(state.policies, key=lambda p: p.key)
    chains: dict[str, Chain] = {}
    by_ns: dict[str, list[NetworkPolicy]] = {}
    for pol in policies:
        by_ns.setdefault(pol.namespace, []).append(pol)
        for short, ptype, field in _DIRS:
            if ptype not in pol.policy_types:
                continue
            rules = pol.ingress if short == "in" else pol.egress
            lines = [line for r in rules for line in b.rule_lines(pol, r, field)]
            name = policy_chain(short, pol)
            chains[name] = Chain(name, tuple(lines))
    tiers = TierBuilder(b, state)
    chains.update(tiers.chains())
    return _Shared({**b.sets, **DENIED_SETS}, b.elements, chains, by_ns, tiers)


def _for_node(sh: _Shared, state: ClusterState, node: str, deny: str) -> PolicyState:
    """Add ``node``'s own part: hairpin pairs, isolation maps, policy-set chains."""
    if deny not in DENY_MODES:
        raise PolicyCompileError(f"deny must be one of {', '.join(DENY_MODES)}, not {deny!r}")
    local: dict[str, dict[str, str | None]] = {n: {} for n in FIXED_SETS}
    local.update(sh.tiers.subject_elements(node))
    isolation: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[NetworkPolicy]] = {}
    set_chains: dict[str, Chain] = {}
    for pod in sorted(state.pods, key=lambda p: p.key):
        if pod.node != node or pod.ip is None:
            continue
        local["self"][f"{pod.ip} . {pod.ip}"] = None
        labels = tuple(sorted(pod.labels.items()))
        for short, ptype, _ in _DIRS:
            cache_key = (ptype, pod.namespace, labels)
            if cache_key not in isolation:
                isolation[cache_key] = _selected(sh.by_ns.get(pod.namespace, []), pod, ptype)
            isolating = isolation[cache_key]
            if not isolating:
                continue
            keys = " ".join(p.key for p in isolating)
            chain = generated_name(f"set-{short}", keys, pod.namespace)
            if chain not in set_chains:
                jumps = [
                    f'jump {policy_chain(short, p)} comment "{_comment(p)}"' for p in isolating
                ]
                set_chains[chain] = Chain(chain, (*jumps, "goto deny"))
            vmap = "ingress-pods" if short == "in" else "egress-pods"
            local[vmap][pod.ip] = f"goto {chain}"
    chains: dict[str, Chain] = {"deny": Chain("deny", _DENY_RULES[deny])}
    chains.update(sh.chains)
    chains.update(sorted(set_chains.items()))
    chains.update(_BASE_CHAINS)
    # The shared dicts are not copied: a PolicyState is never mutated.
    table = Table(FAMILY, TABLE, sh.sets, chains, {**sh.elements, **local})
    return PolicyState(node, deny, table)


def compile_policies(state: ClusterState, node: str, deny: str = "drop") -> PolicyState:
    """The desired ``inet podnet-policy`` table of ``node``. Pure, deterministic.

    Policy chains exist for every policy of the cluster (so a label change that makes a
    pod newly selected needs no new policy chain); the isolation maps, the ``self``
    set and the policy-set chains only cover this node's pods.
    """
    return _for_node(_shared(state), state, node, deny)


def _comment(pol: NetworkPolicy) -> str:
    """The policy's key for ``nft list`` readers (nft comments hold at most 128 bytes;
    namespace and name are DNS labels/subdomains, so no quoting issues)."""
    return pol.key[:120]


def policy_states(
    state: ClusterState, nodes: Sequence[str] | None = None, deny: str = "drop"
) -> dict[str, PolicyState]:
    """:func:`compile_policies` for several nodes (default: all of ``state.nodes``),
    computing the part all nodes share (policy chains, peer sets) once."""
    names = list(nodes) if nodes is not None else [n.name for n in state.nodes]
    sh = _shared(state)
    return {n: _for_node(sh, state, n, deny) for n in names}
