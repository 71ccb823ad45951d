"""Rules about the cluster admin's policies read alone: ``cluster-rule-never-matches``,
``cluster-pass-to-nothing`` and ``cluster-priority-conflict``.

Semantics from network-policy-api (apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier``,
apis/v1alpha1 AdminNetworkPolicy): a peer matches only existing namespaces, pods and
nodes; an Admin ``Pass`` hands the direction to NetworkPolicy and then the Baseline
tier, and when neither applies the connection is allowed (the Pass acts as an Accept);
two policies of one tier and one priority that match the same traffic with different
actions are "implementation-defined" upstream (podnet orders by priority, kind, name).
The rules that need verdicts (Baseline overridden, DNS blocked) are in
:mod:`podnet.analyze.lint.cluster_reach`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from podnet.analyze.lint.cluster_words import action_word, peer_words, rule_words
from podnet.analyze.lint.context import LintContext, owner_ref
from podnet.analyze.lint.finding import Finding
from podnet.control.policy.match import EGRESS, INGRESS, parse_ip, parse_network
from podnet.control.policy.tiers import peer_matches, pods_match, rules_in
from podnet.model.clusterpolicy import (
    ADMIN,
    BASELINE,
    PASS,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
)
from podnet.model.objects import Pod

DIRECTIONS = (INGRESS, EGRESS)
ORDER_NOTE = "implementation-defined upstream; podnet orders by (priority, kind, name)"


def peers_key(direction: str) -> str:
    return "from" if direction == INGRESS else "to"


def some(pods: Sequence[Pod], n: int = 3) -> str:
    """The workloads of ``pods`` (one pod per workload), the first ``n`` by name."""
    names = ", ".join(owner_ref(p) for p in pods[:n])
    return names + (f" and {len(pods) - n} more" if len(pods) > n else "")


def subjects(ctx: LintContext, policy: ClusterNetworkPolicy) -> list[Pod]:
    """One pod per workload among those ``policy``'s subject selects."""
    return peer_pods(ctx, policy.subject)


def peer_pods(ctx: LintContext, peer: ClusterPeer) -> list[Pod]:
    """Representative pods ``peer`` matches (pods, namespaces and networks peers)."""
    got = ctx.peer_pods.get(peer)
    if got is None:
        got = ctx.peer_pods[peer] = [
            p
            for p in ctx.representatives()
            if peer_matches(
                peer,
                p,
                parse_ip(p.ip) if p.ip else None,
                ctx.engine.namespace_labels,
                ctx.node_labels,
            )
        ]
    return got


def _dead_peer(ctx: LintContext, peer: ClusterPeer) -> str:
    """Why ``peer`` can match nothing in this cluster, or "" when it can."""
    if peer.namespaces is not None:
        if any(peer.namespaces.matches(ns.labels) for ns in ctx.state.namespaces):
            return ""
        return f"no namespace has labels {peer.namespaces}"
    if peer.pods is not None:
        return "" if peer_pods(ctx, peer) else f"no pod matches {peer_words(peer)}"
    if peer.nodes is not None:
        if any(peer.nodes.matches(n.labels) for n in ctx.state.nodes):
            return ""
        return f"no node has labels {peer.nodes}"
    if not peer.networks:
        return "its networks list is empty"
    return ""


def _never_matches(ctx: LintContext, pol: ClusterNetworkPolicy) -> list[Finding]:
    out: list[Finding] = []
    if not subjects(ctx, pol):
        out.append(
            Finding(
                "cluster-rule-never-matches",
                "warning",
                pol.key,
                "spec.subject",
                f"the subject ({peer_words(pol.subject)}) selects no pod; "
                f"the {pol.tier} policy has no effect",
                "select namespaces or pods that exist (namespaces carry "
                "kubernetes.io/metadata.name=<name>)",
            )
        )
    for d in DIRECTIONS:
        for i, rule in enumerate(rules_in(pol, d)):
            dead = [(j, _dead_peer(ctx, p)) for j, p in enumerate(rule.peers)]
            dead = [(j, why) for j, why in dead if why]
            if not dead:
                continue
            if len(dead) == len(rule.peers):
                out.append(
                    Finding(
                        "cluster-rule-never-matches",
                        "warning",
                        pol.key,
                        f"spec.{d}[{i}]",
                        f"{rule_words(d, i, rule, pol)} can never match: "
                        + "; ".join(why for _, why in dead),
                        f"fix the {peers_key(d)} selectors, or remove the rule",
                    )
                )
                continue
            for j, why in dead:
                out.append(
                    Finding(
                        "cluster-rule-never-matches",
                        "info",
                        pol.key,
                        f"spec.{d}[{i}].{peers_key(d)}[{j}]",
                        f"this peer of {d} rule #{i} matches nothing: {why} "
                        "(the rule's other peers still match)",
                        "fix the selector or remove the peer",
                    )
                )
    return out


def _below(ctx: LintContext, pod: Pod, direction: str) -> bool:
    """Whether anything under the Admin tier judges ``pod``'s ``direction``."""
    if ctx.engine.policies_for(pod, direction):
        return True
    return any(
        rules_in(b, direction) and pods_match(b.subject, pod, ctx.engine.namespace_labels)
        for b in ctx.state.cluster_policies
        if b.tier == BASELINE
    )


def _pass_to_nothing(ctx: LintContext, pol: ClusterNetworkPolicy) -> list[Finding]:
    if pol.tier != ADMIN:
        return []
    out: list[Finding] = []
    subj = subjects(ctx, pol)
    for d in DIRECTIONS:
        for i, rule in enumerate(rules_in(pol, d)):
            if rule.action != PASS:
                continue
            bare = [p for p in subj if not _below(ctx, p, d)]
            if not bare:
                continue
            out.append(
                Finding(
                    "cluster-pass-to-nothing",
                    "info",
                    pol.key,
                    f"spec.{d}[{i}]",
                    f"{rule_words(d, i, rule, pol)} passes to NetworkPolicy and the Baseline tier, "
                    f"but for {len(bare)} of its {len(subj)} subject workload(s) ({some(bare)}) "
                    f"no NetworkPolicy isolates {d} and no Baseline policy has {d} rules: "
                    "the Pass allows",
                    f"write Accept if allowing is meant; to have it judged, add a "
                    f"NetworkPolicy with policyTypes [{d.capitalize()}] or a Baseline rule",
                )
            )
    return out


def _ports_overlap(a: tuple[ClusterPort, ...], b: tuple[ClusterPort, ...]) -> bool:
    if not a or not b:
        return True
    for x in a:
        for y in b:
            if x.named_port is not None or y.named_port is not None:
                if x.named_port is None or y.named_port is None or x.named_port == y.named_port:
                    return True  # a name and a number may be the same port on some pod
                continue
            if x.protocol != y.protocol:
                continue
            lo1, hi1 = (0, 65535) if x.port is None else (x.port, x.end_port or x.port)
            lo2, hi2 = (0, 65535) if y.port is None else (y.port, y.end_port or y.port)
            if lo1 <= hi2 and lo2 <= hi1:
                return True
    return False


def _common_peer(ctx: LintContext, r1: ClusterRule, r2: ClusterRule) -> str:
    """A peer both rules match (a pod, a node, or overlapping networks), or ""."""
    for p in r1.peers:
        for q in r2.peers:
            if p.networks and q.networks:
                for a in p.networks:
                    for b in q.networks:
                        na, nb = parse_network(a), parse_network(b)
                        if na.version == nb.version and na.overlaps(nb):
                            return f"networks {a} and {b}"
            both = [t for t in peer_pods(ctx, p) if t in peer_pods(ctx, q)]
            if both:
                return owner_ref(both[0])
            if p.nodes is not None and q.nodes is not None:
                for n in ctx.state.nodes:
                    if p.nodes.matches(n.labels) and q.nodes.matches(n.labels):
                        return f"node {n.name}"
    return ""


def _conflicts(ctx: LintContext) -> list[Finding]:
    out: list[Finding] = []
    ordered = sorted(ctx.state.cluster_policies, key=lambda p: (p.tier, p.priority, p.kind, p.name))
    for first, later in combinations(ordered, 2):
        if (first.tier, first.priority) != (later.tier, later.priority):
            continue
        shared = [p for p in subjects(ctx, first) if p in subjects(ctx, later)]
        if not shared:
            continue
        for d in DIRECTIONS:
            hit = _conflicting_rules(ctx, first, later, d)
            if hit is None:
                continue
            i, j, peer = hit
            r1, r2 = rules_in(first, d)[i], rules_in(later, d)[j]
            out.append(
                Finding(
                    "cluster-priority-conflict",
                    "warning",
                    later.key,
                    f"spec.{d}[{j}]",
                    f"{first.key} and {later.key} are both {first.tier} tier, priority "
                    f"{first.priority}, and both select {some(shared, 2)}; its {d} rule "
                    f"#{j} ({action_word(later, r2.action)}) and {first.key}'s {d} rule #{i} "
                    f"({action_word(first, r1.action)}) "
                    f"both match {peer}: which wins is {ORDER_NOTE}, so {first.key} "
                    "decides here",
                    "give the two policies different priorities (lower is evaluated first)",
                )
            )
    return out


def _conflicting_rules(
    ctx: LintContext, a: ClusterNetworkPolicy, b: ClusterNetworkPolicy, direction: str
) -> tuple[int, int, str] | None:
    for i, r1 in enumerate(rules_in(a, direction)):
        for j, r2 in enumerate(rules_in(b, direction)):
            if r1.action == r2.action or not _ports_overlap(r1.ports, r2.ports):
                continue
            peer = _common_peer(ctx, r1, r2)
            if peer:
                return i, j, peer
    return None


def check(ctx: LintContext) -> list[Finding]:
    out: list[Finding] = []
    for pol in ctx.state.cluster_policies:
        out += _never_matches(ctx, pol)
        out += _pass_to_nothing(ctx, pol)
    return out + _conflicts(ctx)
