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
from podnet.control.policy.match import INGRESS, parse_ip, rule_peers_match, rules_of
from podnet.control.policy.match import rule_ports_match as np_ports_match
from podnet.control.policy.tiers import (
    first_match,
    peer_matches,
    rule_ports_match,
    rule_ref,
    rules_in,
    tier_order,
)
from podnet.control.policy.verdict import ClusterRuleRef
from podnet.control.served import container_ports
from podnet.model.clusterpolicy import BASELINE, DENY, ClusterRule
from podnet.model.objects import Pod, PolicyRule


def _matches(
    rule: ClusterRule, *, ctx: LintContext, peer: Pod, port: int, proto: str, dst: Pod
) -> bool:
    """Whether ``rule`` matches ``peer`` on ``port``/``proto`` (``dst`` holds named ports)."""
    ip = parse_ip(peer.ip) if peer.ip else None
    labels = ctx.engine.namespace_labels
    return any(
        peer_matches(pe, peer, ip, labels, ctx.node_labels) for pe in rule.peers
    ) and rule_ports_match(rule, port, proto, dst)


class _NpPeers:
    """Keys of the (representative) pods each NetworkPolicy rule's peers admit, memoised:
    the peers of a rule do not depend on the subject, so a subject's candidates are a
    union of sets, and only those are asked of the engine."""

    def __init__(self, ctx: LintContext) -> None:
        self.ctx = ctx
        self._memo: dict[tuple[str, str, int], frozenset[str]] = {}
        self._ports: dict[str, list[tuple[int, str]]] = {}

    def ports(self, pod: Pod) -> list[tuple[int, str]]:
        got = self._ports.get(pod.key)
        if got is None:
            got = self._ports[pod.key] = [
                (p.container_port, p.protocol) for p in container_ports(pod)
            ]
        return got

    def admitted(self, subject: Pod, direction: str) -> list[tuple[PolicyRule, frozenset[str]]]:
        """The rules of the policies isolating ``subject``, each with the peers it admits."""
        out: list[tuple[PolicyRule, frozenset[str]]] = []
        for pol in self.ctx.engine.policies_for(subject, direction):
            for idx, rule in enumerate(rules_of(pol, direction)):
                key = (pol.key, direction, idx)
                got = self._memo.get(key)
                if got is None:
                    labels = self.ctx.engine.namespace_labels
                    got = self._memo[key] = frozenset(
                        t.key
                        for t in self.ctx.representatives()
                        if rule_peers_match(
                            rule,
                            pol.namespace,
                            t,
                            parse_ip(t.ip) if t.ip else None,
                            labels(t.namespace),
                        )
                    )
                out.append((rule, got))
        return out


def _override(
    ctx: LintContext,
    np_peers: _NpPeers,
    want: ClusterRuleRef,
    peers: dict[str, Pod],
    subject: Pod,
) -> str:
    """How a NetworkPolicy allows, for ``subject``, traffic the Baseline rule ``want``
    (matching ``peers``) would deny; or ""."""
    if not ctx.engine.policies_for(subject, want.direction):
        return ""  # no NetworkPolicy isolates it: the Baseline tier does judge it
    d = want.direction
    admitted = np_peers.admitted(subject, d)
    anyone = frozenset().union(*(keys for _, keys in admitted))
    ordered = tier_order(ctx.state.cluster_policies, BASELINE)
    for key in sorted(anyone.intersection(peers)):
        peer = peers[key]
        if key == subject.key:
            continue
        dst = subject if d == INGRESS else peer
        for port, proto in np_peers.ports(dst):
            if not any(key in keys and np_ports_match(r, port, proto, dst) for r, keys in admitted):
                continue  # no NetworkPolicy rule allows it: denied there, as the Deny would
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
    np = _NpPeers(ctx)
    for pol in ctx.state.cluster_policies:
        if pol.tier != BASELINE:
            continue
        subj = subjects(ctx, pol)
        for d in DIRECTIONS:
            for i, rule in enumerate(rules_in(pol, d)):
                if rule.action != DENY:
                    continue
                want = rule_ref(pol, d, i)
                peers = {p.key: p for pe in rule.peers for p in peer_pods(ctx, pe)}
                hits = [(s, how) for s in subj if (how := _override(ctx, np, want, peers, s))]
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
