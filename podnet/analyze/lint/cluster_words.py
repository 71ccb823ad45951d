"""The cluster admin's policies in words, for lint findings and the report.

``namespaces kubernetes.io/metadata.name=shop``, ``pods app=web in namespaces <all>``,
``nodes role=infra``, ``networks 10.0.0.0/8``; ports as ``TCP 80``, ``TCP 8000-8080``,
``named port http``, ``all UDP ports``. A rule reads ``ingress #0 (deny-web): Deny from
namespaces <all> on TCP 80`` (the index is 0-based, as explain's rule references are).
"""

from __future__ import annotations

from podnet.model.clusterpolicy import (
    ACCEPT,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
)


def peer_words(peer: ClusterPeer) -> str:
    if peer.namespaces is not None:
        return f"namespaces {peer.namespaces}"
    if peer.pods is not None:
        return f"pods {peer.pods.pod_selector} in namespaces {peer.pods.namespace_selector}"
    if peer.nodes is not None:
        return f"nodes {peer.nodes}"
    if peer.networks:
        return f"networks {', '.join(peer.networks)}"
    return "nothing (an empty networks list)"


def port_words(port: ClusterPort) -> str:
    if port.named_port is not None:
        return f"named port {port.named_port}"
    proto = port.protocol or "any protocol"
    if port.port is None:
        return f"all {proto} ports"
    if port.end_port is not None:
        return f"{proto} {port.port}-{port.end_port}"
    return f"{proto} {port.port}"


def action_word(policy: ClusterNetworkPolicy, action: str) -> str:
    """The action as the user wrote it: v1alpha1 says ``Allow`` where v1alpha2 says Accept."""
    if action == ACCEPT and policy.api_version.endswith("/v1alpha1"):
        return "Allow"
    return action


def rule_words(
    direction: str, index: int, rule: ClusterRule, policy: ClusterNetworkPolicy | None = None
) -> str:
    named = f" ({rule.name})" if rule.name else ""
    action = rule.action if policy is None else action_word(policy, rule.action)
    way = "from" if direction == "ingress" else "to"
    peers = "; ".join(peer_words(p) for p in rule.peers) or "nobody"
    ports = ", ".join(port_words(p) for p in rule.ports) or "every port"
    return f"{direction} #{index}{named}: {action} {way} {peers} on {ports}"


def policy_rules(policy: ClusterNetworkPolicy) -> list[str]:
    return [rule_words("ingress", i, r, policy) for i, r in enumerate(policy.ingress)] + [
        rule_words("egress", i, r, policy) for i, r in enumerate(policy.egress)
    ]
