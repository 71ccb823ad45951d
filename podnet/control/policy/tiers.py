"""The cluster admin's tiers: matching AdminNetworkPolicy / BaselineAdminNetworkPolicy /
ClusterNetworkPolicy rules (network-policy-api, apis/v1alpha1 and apis/v1alpha2).

* a subject is ``namespaces`` (every pod of the matching namespaces) or ``pods``
  (namespaceSelector AND podSelector); peers likewise, plus for egress ``nodes`` (the
  addresses of the nodes whose labels match) and ``networks`` (CIDRs, which match pod
  IPs too: "cluster-internal traffic is checked against it");
* ports: a number, a range, every port of a protocol, or a named port resolved on the
  *destination* pod's containerPorts (for ingress the subject, for egress the peer); a
  named port never matches a non-pod destination; no ports = everything;
* in a tier, policies by (priority, kind, name) - upstream leaves equal priorities
  implementation-defined, so :func:`first_match` also reports the disagreeing ones;
  within a policy, rules in written order; the first matching rule decides.

podnet models no host-network pods (manifests refuse ``hostNetwork``), so every pod is
a possible subject and pod peer, as the API requires of pod-network pods. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from podnet.control.policy.match import INGRESS, IPAddress, parse_network
from podnet.control.policy.verdict import ClusterRuleRef, DirectionVerdict
from podnet.model.clusterpolicy import (
    ACCEPT,
    PASS,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
)
from podnet.model.objects import Pod

NamespaceLabels = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class TierMatch:
    """The rule that decided in one tier, and the same-priority rules that disagree."""

    rule: ClusterRuleRef
    conflicts: tuple[ClusterRuleRef, ...] = ()


def tier_order(policies: Sequence[ClusterNetworkPolicy], tier: str) -> list[ClusterNetworkPolicy]:
    """``tier``'s policies in evaluation order: (priority, kind, name)."""
    return sorted(
        (p for p in policies if p.tier == tier), key=lambda p: (p.priority, p.kind, p.name)
    )


def rules_in(policy: ClusterNetworkPolicy, direction: str) -> tuple[ClusterRule, ...]:
    return policy.ingress if direction == INGRESS else policy.egress


def rule_ref(policy: ClusterNetworkPolicy, direction: str, index: int) -> ClusterRuleRef:
    rule = rules_in(policy, direction)[index]
    return ClusterRuleRef(
        policy.key, policy.tier, policy.priority, direction, index, rule.name, rule.action
    )


def pods_match(peer: ClusterPeer, pod: Pod, ns_labels: NamespaceLabels) -> bool:
    """``namespaces`` / ``pods`` against a pod (subjects and pod peers alike)."""
    if peer.namespaces is not None:
        return peer.namespaces.matches(ns_labels(pod.namespace))
    if peer.pods is not None:
        return peer.pods.namespace_selector.matches(
            ns_labels(pod.namespace)
        ) and peer.pods.pod_selector.matches(pod.labels)
    return False


def network_contains(cidrs: tuple[str, ...], ip: IPAddress | None) -> bool:
    if ip is None:
        return False
    for cidr in cidrs:
        net = parse_network(cidr)
        if net.version == ip.version and ip in net:
            return True
    return False


def peer_matches(
    peer: ClusterPeer,
    pod: Pod | None,
    ip: IPAddress | None,
    ns_labels: NamespaceLabels,
    node_labels: Mapping[IPAddress, Mapping[str, str]],
) -> bool:
    """One ``from``/``to`` entry against the other end (``pod`` None: not a pod).

    A peer with no field set (the CRDs forbid it; validation rejects it) matches
    nothing.
    """
    if peer.networks:
        return network_contains(peer.networks, ip)
    if peer.nodes is not None:
        if pod is not None or ip is None:
            return False
        labels = node_labels.get(ip)
        return labels is not None and peer.nodes.matches(labels)
    return pod is not None and pods_match(peer, pod, ns_labels)


def port_matches(cp: ClusterPort, port: int, protocol: str, dst: Pod | None) -> bool:
    """One ``ports``/``protocols`` entry; a named port looks at the destination pod."""
    if cp.named_port is not None:
        return dst is not None and dst.named_port(cp.named_port, protocol) == port
    if cp.protocol != protocol:
        return False
    if cp.port is None:
        return True
    if cp.end_port is not None:
        return cp.port <= port <= cp.end_port
    return port == cp.port


def rule_ports_match(rule: ClusterRule, port: int, protocol: str, dst: Pod | None) -> bool:
    return not rule.ports or any(port_matches(p, port, protocol, dst) for p in rule.ports)


def first_match(
    ordered: Sequence[ClusterNetworkPolicy],
    direction: str,
    subject: Pod,
    rule_matches: Callable[[ClusterRule], bool],
    ns_labels: NamespaceLabels,
) -> TierMatch | None:
    """The first rule of the first policy selecting ``subject`` that matches.

    ``ordered`` is one tier in :func:`tier_order`. Policies after the winner with the
    same priority are looked at too: where their own first matching rule has another
    action the result is implementation-defined upstream, so it is reported.
    """
    won: ClusterRuleRef | None = None
    conflicts: list[ClusterRuleRef] = []
    for pol in ordered:
        if won is not None and pol.priority != won.priority:
            break
        if not pods_match(pol.subject, subject, ns_labels):
            continue
        for i, rule in enumerate(rules_in(pol, direction)):
            if rule_matches(rule):
                ref = rule_ref(pol, direction, i)
                if won is None:
                    won = ref
                elif ref.action != won.action:
                    conflicts.append(ref)
                break
    return None if won is None else TierMatch(won, tuple(conflicts))


def referenced_cluster_port_names(
    policies: Sequence[ClusterNetworkPolicy],
) -> frozenset[str]:
    return frozenset(
        p.named_port
        for pol in policies
        for rule in (*pol.ingress, *pol.egress)
        for p in rule.ports
        if p.named_port is not None
    )


def layered(
    np: DirectionVerdict, admin: TierMatch | None, baseline: TierMatch | None
) -> DirectionVerdict:
    """One direction through the tiers, from each tier's first match.

    ``np`` is the NetworkPolicy v1 verdict of the direction. An Admin Accept/Deny
    decides (NetworkPolicy not consulted); after an Admin Pass, or none, an isolating
    NetworkPolicy decides; else a Baseline Accept/Deny; else allowed. The engine and the
    matrix both build their verdicts here, so their reasons cannot drift apart.
    """
    passed: tuple[ClusterRuleRef, ...] = ()
    conflicts: tuple[ClusterRuleRef, ...] = ()
    if admin is not None:
        conflicts = admin.conflicts
        if admin.rule.action != PASS:
            return replace(
                np,
                isolated=False,
                isolating_policies=(),
                allowed_by=(),
                allowed=admin.rule.action == ACCEPT,
                decided_by=admin.rule,
                conflicts=conflicts,
            )
        passed = (admin.rule,)
    if np.isolated or baseline is None:
        return replace(np, passed=passed, conflicts=conflicts)
    conflicts += baseline.conflicts
    if baseline.rule.action != PASS:
        return replace(
            np,
            allowed=baseline.rule.action == ACCEPT,
            decided_by=baseline.rule,
            passed=passed,
            conflicts=conflicts,
        )
    return replace(np, passed=(*passed, baseline.rule), conflicts=conflicts)
