"""``baseline-deny-overridden``: a Baseline Deny that NetworkPolicies decide before it.

NetworkPolicy v1 sits between the tiers: a pod it isolates for a direction gets its
verdict there, final, and the Baseline tier is never consulted for it
(apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier``; NPEP-0002's BANP "default deny that
namespace owners can override"). That is the design - but when a NetworkPolicy then
allows traffic the Baseline rule would deny, the deny silently does not hold for those
pods, which is worth a warning. Found by asking the engine, pod by pod (one per
workload), whether the NetworkPolicy allows a peer the Baseline rule matches first.
"""

from __future__ import annotations

from functools import partial

from podnet.analyze.lint.cluster import DIRECTIONS, peer_pods, some, subjects
from podnet.analyze.lint.cluster_words import rule_words
from podnet.analyze.lint.context import LintContext
from podnet.analyze.lint.finding import Finding
from podnet.control.policy.match import INGRESS, parse_ip
from podnet.control.policy.tiers import (
    first_match,
    peer_matches,
    rule_ports_match,
    rule_ref,
    rules_in,
    tier_order,
)
from podnet.control.served import container_ports
from podnet.model.clusterpolicy import BASELINE, DENY, ClusterNetworkPolicy, ClusterRule
from podnet.model.objects import Pod


def _matches(
    rule: ClusterRule, *, ctx: LintContext, peer: Pod, port: int, proto: str, dst: Pod
) -> bool:
    """Whether ``rule`` matches ``peer`` on ``port``/``proto`` (``dst`` holds named ports)."""
    ip = parse_ip(peer.ip) if peer.ip else None
    labels = ctx.engine.namespace_labels
    return any(
        peer_matches(pe, peer, ip, labels, ctx.node_labels) for pe in rule.peers
    ) and rule_ports_match(rule, port, proto, dst)


def _override(ctx: LintContext, pol: ClusterNetworkPolicy, d: str, i: int, subject: Pod) -> str:
    """How a NetworkPolicy allows, for ``subject``, traffic rule ``i`` would deny; or ""."""
    if not ctx.engine.policies_for(subject, d):
        return ""  # no NetworkPolicy isolates it: the Baseline tier does judge it
    rule = rules_in(pol, d)[i]
    ordered = tier_order(ctx.state.cluster_policies, BASELINE)
    want = rule_ref(pol, d, i)
    for peer in {p.key: p for pe in rule.peers for p in peer_pods(ctx, pe)}.values():
        if peer.key == subject.key:
            continue
        dst = subject if d == INGRESS else peer
        for cp in container_ports(dst):
            port, proto = cp.container_port, cp.protocol

            matches = partial(_matches, ctx=ctx, peer=peer, port=port, proto=proto, dst=dst)
            won = first_match(ordered, d, subject, matches, ctx.engine.namespace_labels)
            if won is None or won.rule != want:
                continue
            src_, dst_ = (peer, subject) if d == INGRESS else (subject, peer)
            v = ctx.verdict(src_, dst_, port, proto)
            dv = v.ingress if d == INGRESS else v.egress
            if dv.allowed and dv.tier == "NetworkPolicy":
                by = ", ".join(str(r) for r in dv.allowed_by)
                return f"{peer.key} on {port}/{proto} is allowed by {by}"
    return ""


def check(ctx: LintContext) -> list[Finding]:
    out: list[Finding] = []
    for pol in ctx.state.cluster_policies:
        if pol.tier != BASELINE:
            continue
        subj = subjects(ctx, pol)
        for d in DIRECTIONS:
            for i, rule in enumerate(rules_in(pol, d)):
                if rule.action != DENY:
                    continue
                hits = [(s, how) for s in subj if (how := _override(ctx, pol, d, i, s))]
                if not hits:
                    continue
                pods = [s for s, _ in hits]
                out.append(
                    Finding(
                        "baseline-deny-overridden",
                        "warning",
                        pol.key,
                        f"spec.{d}[{i}]",
                        f"{rule_words(d, i, rule, pol)} does not hold for {some(pods)}: "
                        f"NetworkPolicies isolate their {d} and decide before the Baseline "
                        f"tier (e.g. {hits[0][1]})",
                        "if the deny must hold for every pod, make it an Admin tier rule "
                        "(AdminNetworkPolicy, or ClusterNetworkPolicy tier: Admin); "
                        "otherwise nothing to do: Baseline rules are defaults that "
                        "NetworkPolicies override by design",
                    )
                )
    return out
