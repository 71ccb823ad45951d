"""One node's anti-spoofing table as data (pure): which source a pod's veth may send.

Calico drops a workload's packet whose source is not one of the workload's IPs (a
per-interface rule in its ``cali-fw-<iface>`` chains) and sets strict ``rp_filter``
on workload interfaces; Cilium checks the source identity at the endpoint's veth.
podnet does both in one nftables base chain on the node's prerouting hook, at
priority ``raw``: before conntrack (a forged packet leaves no conntrack entry) and
before the proxy's DNAT (``dstnat``) and the policy table (``forward``), so no later
table ever sees a forged source. Layout and limits: README.md here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from podnet.dataplane.nft.objects import Chain, Set, Table, chains_of, sets_of
from podnet.dataplane.sandbox.links import pod_iface
from podnet.model.cluster import ClusterState

FAMILY = "inet"
TABLE = "podnet-guard"
SOURCES = "pod-sources"  # (node-side veth name . the pod's IP)
# Node-side pod veths are "pn" + 8 hex digits (sandbox/links.py); nothing else in a
# node's netns starts so (lo, eth0 towards the node bridge).
POD_IFACES = "pn*"

_RULES = (
    # Not from a pod's veth: the node itself, or another node over eth0, whose own
    # guard already checked its pods.
    f'iifname != "{POD_IFACES}" accept',
    # The pod's own (veth . IP), and the reverse path back out of that same veth:
    # strict rp_filter in nft (wiki.nftables.org "Matching routing information").
    f"iifname . ip saddr @{SOURCES} fib saddr . iif oif exists accept",
    # Everything else from a pod veth: a forged IPv4 source, and any IPv6 (the
    # cluster is IPv4 only, so a pod has no IPv6 source to keep).
    "counter drop",
)

_CHAINS = chains_of(Chain("prerouting", _RULES, "filter", "prerouting", "raw", "accept"))
_SETS = sets_of(Set(SOURCES, type="ifname . ipv4_addr"))


@dataclass(frozen=True)
class GuardState:
    """What one node's table must hold: the (veth, IP) of each of its pods."""

    sources: frozenset[tuple[str, str]]

    @property
    def table(self) -> Table:
        elements = {f'"{iface}" . {ip}': None for iface, ip in sorted(self.sources)}
        return Table(FAMILY, TABLE, _SETS, _CHAINS, {SOURCES: elements})


def guard_state(pods: Iterable[tuple[str, str]]) -> GuardState:
    """From (pod key, pod IP) pairs of one node's pods."""
    return GuardState(frozenset((pod_iface(key), ip) for key, ip in pods))


def guard_states(
    state: ClusterState, nodes: Iterable[str] | None = None
) -> Mapping[str, GuardState]:
    """Every node's (default: all of ``state.nodes``) guard, from the pods placed there."""
    names = list(nodes) if nodes is not None else [n.name for n in state.nodes]
    per_node: dict[str, list[tuple[str, str]]] = {n: [] for n in names}
    for p in state.pods:
        if p.ip is not None and p.node in per_node:
            per_node[p.node].append((p.key, p.ip))
    return {n: guard_state(pods) for n, pods in per_node.items()}
