"""Policies in words: what a NetworkPolicy or cluster policy selects, what each rule does.

Used by ``podnet analyze`` and available to other reports. The wording follows the
NetworkPolicy docs' own explanations (e.g. "allows connections from pods labelled
role=frontend in namespaces labelled project=myproject"), so a reader can check a
policy against their intent rule by rule. Pure: no I/O.
"""

from __future__ import annotations

from podnet.control.policy.match import EGRESS, INGRESS, applies, rules_of
from podnet.model.clusterpolicy import ClusterNetworkPolicy, ClusterPeer, ClusterPort
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


def describe_cluster_peer(peer: ClusterPeer) -> str:
    """A subject or peer of a cluster policy in words (pod-network pods only)."""
    if peer.networks:
        return f"networks {', '.join(peer.networks)}"
    if peer.nodes is not None:
        return "every node" if peer.nodes.is_empty else f"nodes {peer.nodes}"
    if peer.namespaces is not None:
        sel = peer.namespaces
        return "all pods in all namespaces" if sel.is_empty else f"all pods in namespaces {sel}"
    if peer.pods is not None:
        ns, pods = peer.pods.namespace_selector, peer.pods.pod_selector
        where = "all namespaces" if ns.is_empty else f"namespaces {ns}"
        return f"all pods in {where}" if pods.is_empty else f"pods {pods} in {where}"
    return "nothing (empty peer)"


def describe_cluster_port(port: ClusterPort) -> str:
    if port.named_port is not None:
        return f"named port {port.named_port}"
    if port.port is None:
        return f"any {port.protocol} port"
    if port.end_port is not None:
        return f"{port.port}-{port.end_port}/{port.protocol}"
    return f"{port.port}/{port.protocol}"


def describe_cluster_policy(policy: ClusterNetworkPolicy) -> list[str]:
    """One line for tier, priority and subject, then one per direction and rule."""
    lines = [
        f"{policy.key} ({policy.tier} tier, priority {policy.priority}) selects "
        f"{describe_cluster_peer(policy.subject)}"
    ]
    for direction, rules in ((INGRESS, policy.ingress), (EGRESS, policy.egress)):
        word = "from" if direction == INGRESS else "to"
        for i, rule in enumerate(rules):
            named = f" ({rule.name})" if rule.name else ""
            peers = "; ".join(describe_cluster_peer(p) for p in rule.peers)
            ports = ", ".join(describe_cluster_port(p) for p in rule.ports) or "any port"
            lines.append(
                f"  {direction} rule #{i}{named}: {rule.action} {word} {peers}, on {ports}"
            )
    return lines
