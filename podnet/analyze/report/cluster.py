"""The report's section on the cluster admin's policies (AdminNetworkPolicy,
BaselineAdminNetworkPolicy, ClusterNetworkPolicy).

Listed in evaluation order (apis/v1alpha2 ``ClusterNetworkPolicySpec.Tier``): the Admin
tier by priority, then - after NetworkPolicies, which have their own section - the
Baseline tier; equal priorities in (kind, name) order, podnet's choice where upstream
leaves it implementation-defined. Each rule is written out in words
(:mod:`podnet.analyze.lint.cluster_words`), in the version's own action names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from podnet.analyze.lint.cluster_words import peer_words, policy_rules
from podnet.control.policy.match import default_namespace_labels
from podnet.control.policy.tiers import pods_match
from podnet.model.cluster import ClusterState
from podnet.model.clusterpolicy import TIERS, ClusterNetworkPolicy
from podnet.model.objects import Pod


def evaluation_order(policies: Sequence[ClusterNetworkPolicy]) -> list[ClusterNetworkPolicy]:
    return sorted(policies, key=lambda p: (TIERS.index(p.tier), p.priority, p.kind, p.name))


def cluster_policy_data(
    state: ClusterState, groups: Mapping[str, Sequence[Pod]]
) -> list[dict[str, Any]]:
    """One dict per policy, in evaluation order; ``selects`` lists group ids."""
    labels = {ns.name: ns.labels for ns in state.namespaces}

    def ns_labels(name: str) -> Mapping[str, str]:
        return labels.get(name) or default_namespace_labels(name)

    out: list[dict[str, Any]] = []
    for pol in evaluation_order(state.cluster_policies):
        out.append(
            {
                "name": pol.key,
                "api_version": pol.api_version,
                "tier": pol.tier,
                "priority": pol.priority,
                "subject": peer_words(pol.subject),
                "rules": policy_rules(pol),
                "selects": [
                    gid
                    for gid, pods in groups.items()
                    if any(pods_match(pol.subject, p, ns_labels) for p in pods)
                ],
            }
        )
    return out


def cluster_policies_html(data: dict[str, Any]) -> str:
    """The section's table; a sentence when there are none."""
    rows = data["cluster_policies"]
    if not rows:
        return (
            "<p class=muted>No AdminNetworkPolicy, BaselineAdminNetworkPolicy or "
            "ClusterNetworkPolicy: NetworkPolicies alone decide.</p>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("Tier", "Priority", "Policy", "Subject", "Rules", "Selects")
    )
    body = []
    for p in rows:
        rules = "<br>".join(escape(r) for r in p["rules"]) or "<span class=muted>none</span>"
        selects = escape(", ".join(p["selects"])) or "<span class=muted>no pod</span>"
        cells = (
            escape(p["tier"]),
            str(p["priority"]),
            escape(p["name"]),
            escape(p["subject"]),
            rules,
            selects,
        )
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    note = (
        "<p class=muted>Evaluated per direction in this order: the Admin tier (lower "
        "priority first; Accept and Deny decide, Pass hands on), NetworkPolicies (final "
        "for a pod they isolate), the Baseline tier, then allow. Equal priorities: "
        "implementation-defined upstream; podnet orders by kind, then name.</p>"
    )
    return f"{note}<table><tr>{head}</tr>{''.join(body)}</table>"
