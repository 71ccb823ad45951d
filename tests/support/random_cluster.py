"""Random small clusters for the differential tests (engine vs kernel, engine vs nft fake).

:func:`generate` makes 2-3 namespaces, 3-6 pods with labels from a small vocabulary,
1-2 served ports (TCP/UDP, agnhost serve-hostname per port, one Service per pod), 1-4
NetworkPolicies mixing pod/namespace selectors, matchExpressions, ipBlocks,
numbered/named/range/protocol-only ports, ingress and egress. With ``tiers`` it adds the
cluster admin's layers from a separate random stream (so the NetworkPolicy part of a
seed stays the same): 0-3 Admin-tier policies and 0-1 Baseline policy, each written as
v1alpha1 AdminNetworkPolicy / BaselineAdminNetworkPolicy or v1alpha2
ClusterNetworkPolicy, with namespaces/pods subjects, namespaces/pods/networks peers,
Accept(Allow)/Deny/Pass actions and numbered, ranged and named ports; priorities are
drawn from a small range so that equal priorities occur (podnet orders those by kind
and name, in the engine and in the compiler alike).
"""

from __future__ import annotations

import random
from typing import Any

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"
PORTS = [(80, "TCP"), (81, "TCP"), (53, "UDP"), (80, "UDP")]
VALUES = ["a", "b", "c"]
Doc = dict[str, Any]


def _labels(r: random.Random, keys: list[str]) -> dict[str, str]:
    return {k: r.choice(VALUES) for k in keys if r.random() < 0.6}


def _selector(r: random.Random, keys: list[str]) -> Doc:
    roll = r.random()
    if roll < 0.25:
        return {}
    if roll < 0.8:
        return {"matchLabels": {k: r.choice(VALUES) for k in r.sample(keys, 1)}}
    op = r.choice(["In", "NotIn", "Exists", "DoesNotExist"])
    expr: Doc = {"key": r.choice(keys), "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = r.sample(VALUES, r.randint(1, 2))
    return {"matchExpressions": [expr]}


def _peer(r: random.Random, ips: list[str]) -> Doc:
    roll = r.random()
    if roll < 0.35:
        return {"podSelector": _selector(r, ["app", "tier"])}
    if roll < 0.6:
        return {"namespaceSelector": _selector(r, ["team"])}
    if roll < 0.85:
        return {
            "podSelector": _selector(r, ["app", "tier"]),
            "namespaceSelector": _selector(r, ["team"]),
        }
    if r.random() < 0.5:
        return {"ipBlock": {"cidr": f"{r.choice(ips)}/32"}}
    return {"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"{r.choice(ips)}/32"]}}


def _ports(r: random.Random, served: list[tuple[int, str]]) -> list[Doc]:
    out: list[Doc] = []
    for _ in range(r.randint(1, 2)):
        port, proto = r.choice(served)
        roll = r.random()
        if roll < 0.4:
            out.append({"protocol": proto, "port": port})
        elif roll < 0.6:
            out.append({"protocol": proto, "port": f"p{port}-{proto.lower()}"})
        elif roll < 0.8:
            out.append({"protocol": proto})
        else:
            out.append({"protocol": proto, "port": 79, "endPort": 81})
    return out


def _rules(r: random.Random, ips: list[str], served: list[tuple[int, str]], way: str) -> list[Doc]:
    rules = []
    for _ in range(r.randint(0, 2)):
        rule: Doc = {}
        if r.random() < 0.8:
            rule["from" if way == "ingress" else "to"] = [
                _peer(r, ips) for _ in range(r.randint(1, 2))
            ]
        if r.random() < 0.5:
            rule["ports"] = _ports(r, served)
        rules.append(rule)
    return rules


def generate(seed: int, ips: list[str] | None = None, *, tiers: bool = False) -> list[Doc]:
    """The manifests of cluster ``seed``; ``ips`` (pod IPs) feed the ipBlocks.

    ``tiers`` adds :func:`cluster_policies` (the NetworkPolicy part stays the same)."""
    r = random.Random(seed)
    namespaces = ["x", "y", "z"][: r.randint(2, 3)]
    served = r.sample(PORTS, r.randint(1, 2))
    docs: list[Doc] = []
    for ns in namespaces:
        labels = {"team": r.choice(VALUES)} if r.random() < 0.7 else {}
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        )
    for i in range(r.randint(3, 6)):
        ns, name = r.choice(namespaces), f"p{i}"
        containers = [
            {
                "name": f"c{port}-{proto.lower()}",
                "image": AGNHOST,
                "args": [
                    "serve-hostname",
                    f"--{proto.lower()}",
                    "--http=false",
                    "--port",
                    str(port),
                ],
                "ports": [
                    {"containerPort": port, "protocol": proto, "name": f"p{port}-{proto.lower()}"}
                ],
            }
            for port, proto in served
        ]
        labels = {"pod": name, **_labels(r, ["app", "tier"])}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"containers": containers},
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"s-{name}", "namespace": ns},
                "spec": {
                    "selector": {"pod": name},
                    "ports": [
                        {
                            "name": f"s{port}-{proto.lower()}",
                            "port": 1000 + port,
                            "targetPort": f"p{port}-{proto.lower()}",
                            "protocol": proto,
                        }
                        for port, proto in served
                    ],
                },
            }
        )
    pool = ips or ["10.244.0.2"]
    for j in range(r.randint(1, 4)):
        types = r.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec: Doc = {"podSelector": _selector(r, ["app", "tier"]), "policyTypes": types}
        if "Ingress" in types:
            spec["ingress"] = _rules(r, pool, served, "ingress")
        if "Egress" in types:
            spec["egress"] = _rules(r, pool, served, "egress")
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"np{j}", "namespace": r.choice(namespaces)},
                "spec": spec,
            }
        )
    if tiers:
        docs += cluster_policies(seed, pool, served)
    return docs


CLUSTER_V1 = "policy.networking.k8s.io/v1alpha1"
CLUSTER_V2 = "policy.networking.k8s.io/v1alpha2"


def _cluster_subject(r: random.Random) -> Doc:
    if r.random() < 0.5:
        return {"namespaces": _selector(r, ["team", "kubernetes.io/metadata.name"])}
    return {
        "pods": {
            "namespaceSelector": _selector(r, ["team"]),
            "podSelector": _selector(r, ["app", "tier"]),
        }
    }


def _cluster_peer(r: random.Random, ips: list[str], egress: bool) -> Doc:
    roll = r.random()
    if egress and roll < 0.2:
        if r.random() < 0.5:
            return {"networks": [f"{r.choice(ips)}/32"]}
        return {"networks": ["10.244.0.0/16"]}
    if roll < 0.6:
        return {"namespaces": _selector(r, ["team"])}
    return {
        "pods": {
            "namespaceSelector": _selector(r, ["team"]),
            "podSelector": _selector(r, ["app", "tier"]),
        }
    }


def _cluster_ports(
    r: random.Random, served: list[tuple[int, str]], v2: bool, named: bool
) -> list[Doc]:
    """Ports of one rule; ``named`` False where a ``networks`` peer forbids named ports
    (the CRDs' CEL rule: "networks peer cannot be set with namedPorts")."""
    out: list[Doc] = []
    for _ in range(r.randint(1, 2)):
        port, proto = r.choice(served)
        roll = r.random()
        if not named and 0.5 <= roll < 0.75:
            roll = 0.0
        if roll < 0.5:
            if v2:
                out.append({proto.lower(): {"destinationPort": {"number": port}}})
            else:
                out.append({"portNumber": {"protocol": proto, "port": port}})
        elif roll < 0.75:
            name = f"p{port}-{proto.lower()}"
            out.append({"destinationNamedPort": name} if v2 else {"namedPort": name})
        elif v2:
            out.append({proto.lower(): {"destinationPort": {"range": {"start": 79, "end": 81}}}})
        else:
            out.append({"portRange": {"protocol": proto, "start": 79, "end": 81}})
    return out


def _cluster_policy(
    r: random.Random,
    name: str,
    baseline: bool,
    ips: list[str],
    served: list[tuple[int, str]],
) -> Doc:
    v2 = r.random() < 0.5
    actions = ["Allow", "Deny"] if baseline and not v2 else ["Allow", "Deny", "Pass"]
    spec: Doc = {"subject": _cluster_subject(r)}
    if v2:
        spec = {"tier": "Baseline" if baseline else "Admin", "priority": r.randint(0, 3), **spec}
    elif not baseline:
        spec = {"priority": r.randint(0, 3), **spec}
    for way in r.choice([["ingress"], ["egress"], ["ingress", "egress"]]):
        rules = []
        for k in range(r.randint(1, 3)):
            action = r.choice(actions)
            rule: Doc = {
                "name": f"{way}-{k}",
                "action": "Accept" if v2 and action == "Allow" else action,
                "from" if way == "ingress" else "to": [
                    _cluster_peer(r, ips, way == "egress") for _ in range(r.randint(1, 2))
                ],
            }
            if r.random() < 0.5:
                named = not any("networks" in peer for peer in rule.get("to", []))
                rule["protocols" if v2 else "ports"] = _cluster_ports(r, served, v2, named)
            rules.append(rule)
        spec[way] = rules
    kind = (
        "ClusterNetworkPolicy"
        if v2
        else ("BaselineAdminNetworkPolicy" if baseline else "AdminNetworkPolicy")
    )
    return {
        "apiVersion": CLUSTER_V2 if v2 else CLUSTER_V1,
        "kind": kind,
        "metadata": {"name": "default" if baseline and not v2 else name},
        "spec": spec,
    }


def cluster_policies(
    seed: int, ips: list[str], served: list[tuple[int, str]], admin: int = 3
) -> list[Doc]:
    """Up to ``admin`` Admin-tier policies and at most one Baseline policy for ``seed``."""
    r = random.Random(seed * 7919 + 17)
    docs = [_cluster_policy(r, f"anp{i}", False, ips, served) for i in range(r.randint(0, admin))]
    if r.random() < 0.7:
        docs.append(_cluster_policy(r, "baseline", True, ips, served))
    return docs
