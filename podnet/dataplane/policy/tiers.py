"""The cluster admin's tiers as ordered chains (network-policy-api, pure).

The compiler's OWN reading of AdminNetworkPolicy / BaselineAdminNetworkPolicy
(v1alpha1) and ClusterNetworkPolicy (v1alpha2; apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier``),
independent of :mod:`podnet.control.policy` so that ``podnet probe`` means something:

* per direction ``<d>``: ``admin-<d>`` jumps, in (priority, kind, name) order (upstream
  leaves equal priorities implementation-defined; podnet fixes this order), to one
  ``cnp-<d>-<HASH>-<kind>-<name>`` chain per policy, guarded by its subject set; a
  policy chain holds its rules in written order: Accept -> ``accept`` (this direction
  only: an egress accept ends the egress base chain and ingress is still judged),
  Deny -> ``goto deny``, Pass -> ``goto np-<d>`` (skips the rest of the tier from any
  depth, since ``np-<d>`` always ends in a verdict);
* ``np-<d>``: the NetworkPolicy v1 isolation map (an isolated pod's verdict is
  final), else ``goto baseline-<d>``; ``baseline-<d>``: the Baseline tier the same
  way (a Baseline Pass means "no verdict here": allow), then ``accept``;
* subjects are NODE-LOCAL pod-IP sets (``subj-<HASH>-<kind>``): each node judges the
  egress of its own pods and the ingress to its own pods, as for NetworkPolicies;
  peers ``namespaces``/``pods`` share the NetworkPolicy pod-IP sets, ``nodes`` are
  the matching nodes' addresses (``nodes-<HASH>``), ``networks`` interval sets that
  match pod IPs too; a named port is resolved on the destination pod, any protocol
  (``port-any-<name>``: ``pod-ip . proto . port``), and never matches a non-pod.

podnet refuses host-network pods at load time, so every pod is a subject and peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from podnet.dataplane.nft.names import generated_name
from podnet.dataplane.nft.objects import Chain, Set
from podnet.dataplane.policy.build import SetBuilder
from podnet.dataplane.policy.match import (
    PeerKey,
    merge_ranges,
    named_port_set,
    peer_selects,
    port_match,
)
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import (
    ACCEPT,
    ADMIN,
    DENY,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
)
from podnet.model.objects import Pod, PolicyPort
from podnet.model.selectors import LabelSelector

_KIND = {
    "AdminNetworkPolicy": "anp",
    "BaselineAdminNetworkPolicy": "banp",
    "ClusterNetworkPolicy": "cnp",
}


def tier_chain(tier: str, direction: str) -> str:
    """``admin-eg``, ``baseline-in``, ...: the fixed chain of one tier and direction."""
    return f"{'admin' if tier == ADMIN else 'baseline'}-{direction}"


def np_chain(direction: str) -> str:
    """``np-eg`` / ``np-in``: the NetworkPolicy stage, entered after the Admin tier."""
    return f"np-{direction}"


def cluster_policy_chain(direction: str, pol: ClusterNetworkPolicy) -> str:
    """``cnp-<d>-<HASH>-<anp|banp|cnp>-<name>``."""
    return generated_name(f"cnp-{direction}", pol.key, f"{_KIND.get(pol.kind, 'cnp')}-{pol.name}")


def ordered(policies: Iterable[ClusterNetworkPolicy], tier: str) -> list[ClusterNetworkPolicy]:
    """One tier's policies in evaluation order: (priority, kind, name)."""
    return sorted(
        (p for p in policies if p.tier == tier), key=lambda p: (p.priority, p.kind, p.name)
    )


def _peer_key(peer: ClusterPeer) -> PeerKey | None:
    """A ``namespaces``/``pods`` peer or subject as a pod-selector key (None otherwise)."""
    if peer.namespaces is not None:
        return ("*", None, peer.namespaces)
    if peer.pods is not None:
        return ("*", peer.pods.pod_selector, peer.pods.namespace_selector)
    return None


def network_ranges(cidrs: Iterable[str]) -> list[tuple[int, int]]:
    """IPv4 ranges of ``networks`` (normalised by the loader; IPv6 matches nothing)."""
    out = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version == 4:
            out.append((int(net.network_address), int(net.broadcast_address)))
    return merge_ranges(out)


def any_named_port_elements(pods: Iterable[Pod], name: str) -> dict[str, str | None]:
    """``pod-ip . proto . port`` for every container port called ``name``, any protocol."""
    out: dict[str, str | None] = {}
    for pod in pods:
        if pod.ip is None:
            continue
        for cp in pod.all_ports():
            if cp.name == name:
                out[f"{pod.ip} . {cp.protocol.lower()} . {cp.container_port}"] = None
    return out


class TierBuilder:
    """Walks the cluster policies, adding their sets to ``b`` and returning chains.

    Subject sets are declared here (the same on every node); their elements are per
    node (:meth:`subject_elements`)."""

    def __init__(self, b: SetBuilder, state: ClusterState) -> None:
        self.b = b
        self.state = state
        self.subjects: dict[str, PeerKey] = {}

    def chains(self) -> dict[str, Chain]:
        """Baseline policy chains, ``baseline-<d>``, ``np-<d>``, Admin policy chains,
        ``admin-<d>``: each after every chain it references."""
        out: dict[str, Chain] = {}
        for tier in ("Baseline", ADMIN):
            policies = ordered(self.state.cluster_policies, tier)
            for d, field in (("eg", "saddr"), ("in", "daddr")):
                jumps = []
                for pol in policies:
                    name = cluster_policy_chain(d, pol)
                    rules = pol.egress if d == "eg" else pol.ingress
                    lines = [line for r in rules for line in self._rule_lines(r, d, tier)]
                    out[name] = Chain(name, tuple(lines))
                    subj = self._subject_set(pol.subject)
                    if lines and subj is not None:
                        jumps.append(f'ip {field} @{subj} jump {name} comment "{pol.key[:120]}"')
                if tier == ADMIN:
                    out[tier_chain(tier, d)] = Chain(tier_chain(tier, d), tuple(jumps))
                else:
                    out[tier_chain(tier, d)] = Chain(tier_chain(tier, d), (*jumps, "accept"))
                    vmap = "egress-pods" if d == "eg" else "ingress-pods"
                    np_rules = (f"ip {field} vmap @{vmap}", f"goto {tier_chain(tier, d)}")
                    out[np_chain(d)] = Chain(np_chain(d), np_rules)
        return out

    def _subject_set(self, subject: ClusterPeer) -> str | None:
        key = _peer_key(subject)
        if key is None:
            return None  # a subject is namespaces or pods (the CRDs); else it selects none
        name = generated_name("subj", repr(key), "namespaces" if key[1] is None else "pods")
        if name not in self.b.sets:
            self.b.sets[name] = Set(name, "ipv4_addr")
            self.subjects[name] = key
        return name

    def subject_elements(self, node: str) -> dict[str, dict[str, str | None]]:
        """Each subject set's members on ``node``: the pods there that it selects."""
        out: dict[str, dict[str, str | None]] = {n: {} for n in self.subjects}
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
        for pod in sorted(self.state.pods, key=lambda p: p.key):
            if pod.node != node or pod.ip is None:
                continue
            group = (pod.namespace, tuple(sorted(pod.labels.items())))
            if group not in seen:  # pods of one workload share labels: match once
                ns_labels = self.b.ns_labels[pod.namespace]
                seen[group] = [
                    name
                    for name, key in self.subjects.items()
                    if peer_selects(key, pod.namespace, pod.labels, ns_labels)
                ]
            for name in seen[group]:
                out[name][pod.ip] = None
        return out

    def _rule_lines(self, rule: ClusterRule, d: str, tier: str) -> list[str]:
        field = "daddr" if d == "eg" else "saddr"
        if rule.action == ACCEPT:
            verdict = "accept"
        elif rule.action == DENY:
            verdict = "goto deny"
        else:  # Pass: on to the next stage (after the Baseline tier: allowed)
            verdict = f"goto {np_chain(d)}" if tier == ADMIN else "accept"
        peers = self._peers(rule.peers, field, egress=d == "eg")
        ports = self._ports(rule.ports) if rule.ports else [""]
        return [" ".join(x for x in (pe, po, verdict) if x) for pe in peers for po in ports]

    def _peers(self, peers: Sequence[ClusterPeer], field: str, egress: bool) -> list[str]:
        keys = tuple(sorted({k for p in peers if (k := _peer_key(p)) is not None}, key=repr))
        out = []
        if keys:
            out.append(f"ip {field} @{self.b.pod_set(keys)}")
        if egress:  # nodes and networks are egress peers only (the CRDs)
            nodes = tuple(sorted({p.nodes for p in peers if p.nodes is not None}, key=repr))
            if nodes:
                out.append(f"ip {field} @{self._node_set(nodes)}")
            ranges = network_ranges(c for p in peers for c in p.networks)
            if ranges:
                out.append(f"ip {field} @{self.b.cidr_set(ranges)}")
        return out

    def _node_set(self, selectors: Sequence[LabelSelector]) -> str:
        name = generated_name("nodes", repr(selectors))
        if name not in self.b.sets:
            self.b.sets[name] = Set(name, "ipv4_addr")
            self.b.elements[name] = {
                n.address: None
                for n in sorted(self.state.nodes, key=lambda n: n.address)
                if any(s.matches(n.labels) for s in selectors)
            }
        return name

    def _ports(self, ports: Sequence[ClusterPort]) -> list[str]:
        numbered = [
            PolicyPort(p.protocol, p.port, p.end_port)
            for p in ports
            if p.named_port is None and p.protocol is not None
        ]
        out = list(port_match(numbered).numbered) if numbered else []
        for port_name in sorted({p.named_port for p in ports if p.named_port is not None}):
            out.append(f"ip daddr . meta l4proto . th dport @{self._named_set(port_name)}")
        return out

    def _named_set(self, port_name: str) -> str:
        name = named_port_set("any", port_name)
        if name not in self.b.sets:
            self.b.sets[name] = Set(name, "ipv4_addr . inet_proto . inet_service")
            self.b.elements[name] = any_named_port_elements(self.b.pods, port_name)
        return name
