"""NetworkPolicies in words: what a policy selects and what each rule admits.

Used by ``podnet analyze`` and available to other reports. The wording follows the
NetworkPolicy docs' own explanations (e.g. "allows connections from pods labelled
role=frontend in namespaces labelled project=myproject"), so a reader can check a
policy against their intent rule by rule. Pure: no I/O.
"""

from __future__ import annotations

from podnet.control.policy.match import EGRESS, INGRESS, applies, rules_of
from podnet.model.objects import NetworkPolicy, PolicyPeer, PolicyPort, PolicyRule


def describe_peer(peer: PolicyPeer, policy_namespace: str) -> str:
    if peer.ip_block is not None:
        exc = peer.ip_block.except_
        return f"{peer.ip_block.cidr}" + (f" except {', '.join(exc)}" if exc else "")
    if peer.pod_selector is None and peer.namespace_selector is None:
        return "nothing (empty peer)"
    if peer.namespace_selector is None:
        where = f"namespace {policy_namespace}"
    elif peer.namespace_selector.is_empty:
        where = "all namespaces"
    else:
        where = f"namespaces {peer.namespace_selector}"
    if peer.pod_selector is None or peer.pod_selector.is_empty:
        return f"all pods in {where}"
    return f"pods {peer.pod_selector} in {where}"


def describe_port(port: PolicyPort) -> str:
    if port.port is None:
        return f"any {port.protocol} port"
    if port.end_port is not None:
        return f"{port.port}-{port.end_port}/{port.protocol}"
    if isinstance(port.port, str):
        return f"named port {port.port}/{port.protocol}"
    return f"{port.port}/{port.protocol}"


def describe_rule(rule: PolicyRule, direction: str, policy_namespace: str) -> str:
    word = "from" if direction == INGRESS else "to"
    peers = (
        "; ".join(describe_peer(p, policy_namespace) for p in rule.peers)
        if rule.peers
        else "anywhere (pods and non-pod addresses)"
    )
    ports = ", ".join(describe_port(p) for p in rule.ports) if rule.ports else "any port"
    return f"{word} {peers}, on {ports}"


def describe_policy(policy: NetworkPolicy) -> list[str]:
    """One line for the selection, then one per direction and rule."""
    sel = "every pod" if policy.pod_selector.is_empty else f"pods {policy.pod_selector}"
    lines = [f"{policy.key} selects {sel} in namespace {policy.namespace}"]
    for direction in (INGRESS, EGRESS):
        if not applies(policy, direction):
            continue
        rules = rules_of(policy, direction)
        if not rules:
            lines.append(f"  {direction}: isolated, no rule: nothing allowed")
            continue
        for i, rule in enumerate(rules):
            lines.append(
                f"  {direction} rule #{i}: {describe_rule(rule, direction, policy.namespace)}"
            )
    if not policy.policy_types:
        lines.append("  no policyTypes: isolates nothing")
    return lines
