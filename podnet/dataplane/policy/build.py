"""Sets and rule lines of the policy table, built while walking the policies.

:class:`SetBuilder` turns one ingress/egress rule into its ``... accept`` lines and
creates the named sets those lines reference, with their elements: pod-IP sets per
distinct list of selector peers (``pods-<HASH>-<namespaces>``), ipBlock interval sets
named by their content (``cidr-<HASH>-<first address>``) and named-port sets
(``port-<proto>-<name>``). Selectors run once per (namespace, label set), not per
pod: pods of one workload share labels. Semantics: :mod:`podnet.dataplane.policy.match`.
"""

from __future__ import annotations

from collections.abc import Sequence

from podnet.dataplane.nft.names import generated_name
from podnet.dataplane.nft.objects import Map, Set, sets_of
from podnet.dataplane.policy.match import (
    PeerKey,
    block_ranges,
    named_port_elements,
    named_port_set,
    namespace_labels,
    peer_selects,
    port_match,
    range_text,
    selector_peers,
)
from podnet.model.cluster import ClusterState
from podnet.model.objects import NetworkPolicy, PolicyRule

# Sets every table has: hairpin pairs and the two isolation maps (see compile.py).
FIXED_SETS: dict[str, Set] = sets_of(
    Set("self", "ipv4_addr . ipv4_addr"),
    Map("ingress-pods", "ipv4_addr : verdict"),
    Map("egress-pods", "ipv4_addr : verdict"),
)


class SetBuilder:
    """Accumulates the sets and their elements while the policies are walked."""

    def __init__(self, state: ClusterState) -> None:
        self.pods = [p for p in state.pods if p.ip is not None]
        declared = state.namespace_labels()
        # Pods grouped by namespace, then by label set: selectors run once per group
        # (pods of one workload share labels), and a peer confined to one namespace
        # only looks at that namespace's groups.
        self.groups: dict[str, dict[tuple[tuple[str, str], ...], list[str]]] = {}
        for p in self.pods:
            assert p.ip is not None
            by_labels = self.groups.setdefault(p.namespace, {})
            by_labels.setdefault(tuple(sorted(p.labels.items())), []).append(p.ip)
        self.ns_labels = {ns: namespace_labels(declared, ns) for ns in self.groups}
        self.label_maps = {
            labels: dict(labels) for groups in self.groups.values() for labels in groups
        }
        self.sets: dict[str, Set] = dict(FIXED_SETS)
        self.elements: dict[str, dict[str, str | None]] = {n: {} for n in FIXED_SETS}

    def pod_set(self, keys: tuple[PeerKey, ...]) -> str:
        where = sorted({"all" if k[0] == "*" else k[0] for k in keys})
        name = generated_name("pods", repr(keys), "-".join(where))
        if name not in self.sets:
            self.sets[name] = Set(name, "ipv4_addr")
            members: dict[str, str | None] = {}
            for key in keys:
                spaces = self.groups
                if key[0] != "*":
                    spaces = {key[0]: self.groups[key[0]]} if key[0] in self.groups else {}
                for ns, groups in spaces.items():
                    ns_labels = self.ns_labels[ns]
                    if key[2] is not None and not key[2].matches(ns_labels):
                        continue
                    for labels, ips in groups.items():
                        if peer_selects(key, ns, self.label_maps[labels], ns_labels):
                            members.update(dict.fromkeys(ips))
            self.elements[name] = dict(sorted(members.items()))
        return name

    def cidr_set(self, ranges: Sequence[tuple[int, int]]) -> str:
        items = [range_text(lo, hi) for lo, hi in ranges]
        name = generated_name("cidr", ",".join(items), items[0].partition("-")[0] if items else "")
        if name not in self.sets:
            self.sets[name] = Set(name, "ipv4_addr", flags=("interval",))
            self.elements[name] = dict.fromkeys(items)
        return name

    def named_set(self, proto: str, port_name: str) -> str:
        name = named_port_set(proto, port_name)
        if name not in self.sets:
            self.sets[name] = Set(name, "ipv4_addr . inet_proto . inet_service")
            self.elements[name] = named_port_elements(self.pods, proto, port_name)
        return name

    def rule_lines(self, pol: NetworkPolicy, rule: PolicyRule, field: str) -> list[str]:
        """The ``accept`` lines of one ingress/egress rule (none: it admits nothing)."""
        peers = [""]
        if rule.peers:
            peers = []
            keys = selector_peers(pol.namespace, rule.peers)
            if keys:
                peers.append(f"ip {field} @{self.pod_set(keys)}")
            ranges = block_ranges(p.ip_block for p in rule.peers if p.ip_block is not None)
            if ranges:
                peers.append(f"ip {field} @{self.cidr_set(ranges)}")
        ports = [""]
        if rule.ports:
            pm = port_match(rule.ports)
            ports = list(pm.numbered)
            for proto, port_name in pm.named:
                s = self.named_set(proto, port_name)
                ports.append(f"ip daddr . meta l4proto . th dport @{s}")
        return [
            " ".join(x for x in (peer, port, "accept") if x) for peer in peers for port in ports
        ]
