"""The cluster admin's policies (both API versions) -> one :class:`ClusterNetworkPolicy`.

v1alpha1 AdminNetworkPolicy is the Admin tier and BaselineAdminNetworkPolicy the
Baseline tier (priority 0, a singleton); their ``Allow`` is v1alpha2's ``Accept``.
``ports`` (v1alpha1: portNumber, namedPort, portRange; protocol defaults to TCP, the
CRD's ``default: TCP``) and ``protocols`` (v1alpha2: tcp/udp/sctp destinationPort
number or range, destinationNamedPort) both become :class:`ClusterPort`. Absent
``ports``/``protocols``: every port. ``pods.namespaceSelector`` absent (v1alpha2 makes it
optional): every namespace.

``domainNames`` peers (experimental) are not modelled: podnet does not resolve DNS
names into peers. The types' own guidance for a peer an implementation cannot use
("fail closed", ClusterNetworkPolicyEgressPeer / AdminNetworkPolicyEgressPeer): for
Accept rules the peer matches no traffic; for Deny and Pass rules the rule is treated
as a "Deny all" rule. Each such rule gets a warning saying which was done.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from podnet.manifests.convert import to_selector
from podnet.manifests.lines import Path
from podnet.manifests.report import DocContext
from podnet.model.clusterpolicy import (
    ACCEPT,
    ADMIN,
    BASELINE,
    DENY,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterPort,
    ClusterRule,
    PodsIn,
)
from podnet.model.meta import Meta

# Every address: the "Deny all" of fail-closed (``networks`` matches pod IPs too).
EVERYWHERE = ClusterPeer(networks=("0.0.0.0/0", "::/0"))


def to_cluster_policy(ctx: DocContext, doc: dict[str, Any], meta: Meta) -> ClusterNetworkPolicy:
    """A validated AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy."""
    kind = str(doc["kind"])
    spec = doc["spec"]
    if kind == "ClusterNetworkPolicy":
        tier, priority, ports_key = str(spec["tier"]), int(spec["priority"]), "protocols"
    elif kind == "AdminNetworkPolicy":
        tier, priority, ports_key = ADMIN, int(spec["priority"]), "ports"
    else:
        tier, priority, ports_key = BASELINE, 0, "ports"
    rules: dict[str, tuple[ClusterRule, ...]] = {}
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        out = []
        for i, rule in enumerate(spec.get(direction) or ()):
            path = ("spec", direction, i)
            converted = _rule(ctx, path, rule, peers_key, ports_key)
            if converted is not None:
                out.append(converted)
        rules[direction] = tuple(out)
    return ClusterNetworkPolicy(
        name=meta.name,
        tier=tier,
        priority=priority,
        subject=_peer(spec["subject"]),
        ingress=rules["ingress"],
        egress=rules["egress"],
        kind=kind,
        api_version=str(doc["apiVersion"]),
        meta=meta,
    )


def _rule(
    ctx: DocContext, path: Path, rule: dict[str, Any], peers_key: str, ports_key: str
) -> ClusterRule | None:
    action = ACCEPT if rule["action"] in ("Allow", ACCEPT) else str(rule["action"])
    name = str(rule.get("name") or "")
    ports = tuple(_port(p) for p in rule.get(ports_key) or ())
    raw = rule[peers_key]
    peers = tuple(_peer(p) for p in raw if "domainNames" not in p)
    if len(peers) == len(raw):
        return ClusterRule(action=action, peers=peers, ports=ports, name=name)
    where = next(j for j, p in enumerate(raw) if "domainNames" in p)
    unmodelled = "podnet does not model domainNames (DNS-name) peers"
    if action != ACCEPT:
        ctx.warn(
            (*path, peers_key, where, "domainNames"),
            f"{unmodelled}; as the API says to fail closed for a {action} rule, this "
            "rule is treated as a 'Deny all' rule (every destination, every port)",
        )
        return ClusterRule(action=DENY, peers=(EVERYWHERE,), name=name)
    if not peers:
        ctx.warn(
            (*path, peers_key, where, "domainNames"),
            f"{unmodelled}; as the API says to fail closed for an {rule['action']} rule, "
            "the peer matches no traffic, so this rule never matches",
        )
        return None
    ctx.warn(
        (*path, peers_key, where, "domainNames"),
        f"{unmodelled}; as the API says to fail closed for an {rule['action']} rule, "
        "that peer matches no traffic (the rule's other peers still apply)",
    )
    return ClusterRule(action=action, peers=peers, ports=ports, name=name)


def _peer(p: dict[str, Any]) -> ClusterPeer:
    if "namespaces" in p:
        return ClusterPeer(namespaces=to_selector(p["namespaces"]))
    if "pods" in p:
        pods = p["pods"]
        return ClusterPeer(
            pods=PodsIn(
                namespace_selector=to_selector(pods.get("namespaceSelector")),
                pod_selector=to_selector(pods.get("podSelector")),
            )
        )
    if "nodes" in p:
        return ClusterPeer(nodes=to_selector(p["nodes"]))
    return ClusterPeer(
        networks=tuple(str(ipaddress.ip_network(c, strict=False)) for c in p["networks"])
    )


def _port(p: dict[str, Any]) -> ClusterPort:
    if "portNumber" in p:  # v1alpha1
        number = p["portNumber"]
        return ClusterPort(protocol=number.get("protocol") or "TCP", port=int(number["port"]))
    if "portRange" in p:
        span = p["portRange"]
        return ClusterPort(
            protocol=span.get("protocol") or "TCP",
            port=int(span["start"]),
            end_port=int(span["end"]),
        )
    named = p.get("namedPort") or p.get("destinationNamedPort")
    if named is not None:
        return ClusterPort(protocol=None, named_port=str(named))
    protocol = next(k for k in ("tcp", "udp", "sctp") if k in p)  # v1alpha2
    dest = p[protocol]["destinationPort"]
    if "number" in dest:
        return ClusterPort(protocol=protocol.upper(), port=int(dest["number"]))
    span = dest["range"]
    return ClusterPort(
        protocol=protocol.upper(), port=int(span["start"]), end_port=int(span["end"])
    )
