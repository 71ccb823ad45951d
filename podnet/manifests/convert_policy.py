"""NetworkPolicy documents -> model, with networking/v1 defaulting.

pkg/apis/networking/v1/defaults.go: SetDefaults_NetworkPolicyPort sets protocol TCP;
SetDefaults_NetworkPolicy sets policyTypes, when empty, to ``[Ingress]`` plus
``Egress`` if ``len(spec.egress) != 0`` (so ``egress: []`` does *not* add Egress).

Rule semantics kept as data (networking/v1 types.go): a rule without ``from``/``to``
or with an empty list matches all peers (empty ``peers``); without ``ports`` or with an
empty list, all ports (empty ``ports``); ``ingress: []`` or no ``ingress`` = no rules; an
empty ``podSelector`` selects every pod in the namespace.
"""

from __future__ import annotations

from typing import Any

from podnet.manifests.convert import to_selector
from podnet.model.meta import Meta
from podnet.model.objects import IPBlock, NetworkPolicy, PolicyPeer, PolicyPort, PolicyRule


def to_policy(doc: dict[str, Any], meta: Meta) -> NetworkPolicy:
    spec = doc.get("spec") or {}
    ingress = tuple(_rule(r, "from") for r in spec.get("ingress") or ())
    egress = tuple(_rule(r, "to") for r in spec.get("egress") or ())
    given = spec.get("policyTypes") or []
    if given:
        types = tuple(dict.fromkeys(str(t) for t in given))
    else:
        types = ("Ingress", "Egress") if egress else ("Ingress",)
    return NetworkPolicy(
        namespace=meta.namespace,
        name=meta.name,
        pod_selector=to_selector(spec.get("podSelector")),
        policy_types=types,
        ingress=ingress,
        egress=egress,
        meta=meta,
    )


def _rule(rule: dict[str, Any] | None, peers_key: str) -> PolicyRule:
    rule = rule or {}
    return PolicyRule(
        ports=tuple(_port(p) for p in rule.get("ports") or ()),
        peers=tuple(_peer(p) for p in rule.get(peers_key) or ()),
    )


def _port(p: dict[str, Any]) -> PolicyPort:
    return PolicyPort(
        protocol=p.get("protocol") or "TCP",
        port=p.get("port"),
        end_port=p.get("endPort"),
    )


def _peer(p: dict[str, Any]) -> PolicyPeer:
    block = p.get("ipBlock")
    return PolicyPeer(
        pod_selector=to_selector(p["podSelector"]) if p.get("podSelector") is not None else None,
        namespace_selector=(
            to_selector(p["namespaceSelector"]) if p.get("namespaceSelector") is not None else None
        ),
        ip_block=(
            IPBlock(
                cidr=str(block["cidr"]), except_=tuple(str(e) for e in block.get("except") or ())
            )
            if isinstance(block, dict)
            else None
        ),
    )
