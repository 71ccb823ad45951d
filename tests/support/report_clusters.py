"""Clusters of a chosen size for the report's tests and docs/report-*.png (mf_builders).

:func:`sized` spreads ``pods`` pods over namespaces (about one per 50 pods, at least 2)
as Deployments/StatefulSets of 1-10 replicas plus two bare pods, each workload serving
one or two ports behind a Service; seeded NetworkPolicies make the verdicts vary: a
default-deny-ingress in some namespaces, allows by pod and by namespace, a port-limited
allow (so the all-ports view has cells that differ by port), an egress policy on one
workload, and an allow from the first pod of a StatefulSet only (its pod-index label),
so "some pod pairs" occurs too.
"""

from __future__ import annotations

import random
from typing import Any

from podnet.control.cluster import build_cluster, user_pods
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests, Pod
from support.mf_builders import load, pod, policy, service, workload

Doc = dict[str, Any]
NAMES = ("shop", "data", "auth", "ops", "edge", "mail", "pay", "feed", "ml", "cdn", "logs")
PORTS = (80, 8080, 5432, 6379, 9090)


def _in(doc: Doc, namespace: str) -> Doc:
    doc["metadata"]["namespace"] = namespace
    return doc


def _serving(doc: Doc, ports: list[int]) -> Doc:
    spec = doc["spec"]["template"]["spec"] if "template" in doc["spec"] else doc["spec"]
    spec["containers"] = [
        {"name": "c", "image": "nginx", "ports": [{"containerPort": p} for p in ports]}
    ]
    return doc


def sized(pods: int, seed: int = 7) -> list[Doc]:
    """Manifest documents for exactly ``pods`` user pods."""
    r = random.Random(seed * 1000 + pods)
    n_ns = max(2, min(len(NAMES), round(pods / 50)))
    namespaces = list(NAMES[:n_ns])
    docs: list[Doc] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"team": n}}}
        for n in namespaces
    ]
    left = pods - 2
    apps: list[tuple[str, str, list[int]]] = []  # namespace, app, ports
    kinds: list[tuple[str, bool]] = []  # kind, more than one replica
    i = 0
    while left > 0:
        ns = namespaces[i % n_ns]
        size = min(left, r.randint(2 if i == 2 else 1, 10) if pods > 20 else r.randint(2, 3))
        name = f"app{i}"
        ports = r.sample(PORTS, r.choice((1, 1, 2)))
        kind = "StatefulSet" if r.random() < 0.2 or i == 2 else "Deployment"
        extra = {"serviceName": name} if kind == "StatefulSet" else {}
        docs.append(_in(_serving(workload(kind, name, replicas=size, **extra), ports), ns))
        sel = {"selector": {"app": name}, "ports": [{"port": p, "name": f"p{p}"} for p in ports]}
        docs.append(_in(service(name, **sel), ns))
        apps.append((ns, name, ports))
        kinds.append((kind, size > 1))
        left -= size
        i += 1
    for b, ns in enumerate(namespaces[:2]):
        bare = _serving(pod(f"tool{b}"), [80])
        bare["metadata"]["labels"] = {"app": "tool", "probe": "yes" if b == 0 else "no"}
        docs.append(_in(bare, ns))
    for k, ns in enumerate(namespaces):
        mine = [a for a in apps if a[0] == ns]
        if k % 2 == 0:
            docs.append(_in(policy("default-deny", policyTypes=["Ingress"]), ns))
        for _, app, ports in mine[: max(1, len(mine) // 2)]:
            peer_ns = r.choice(namespaces)
            rules: list[Doc] = [
                {"from": [{"podSelector": {"matchLabels": {"app": r.choice(mine)[1]}}}]},
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"team": peer_ns}}},
                    ],
                    "ports": [{"port": ports[0]}],
                },
            ]
            if r.random() < 0.5:
                rules.append({"from": [{"podSelector": {"matchLabels": {"probe": "yes"}}}]})
            spec = {"podSelector": {"matchLabels": {"app": app}}, "ingress": rules}
            docs.append(_in(policy(f"allow-{app}", **spec), ns))
    sets = [a for a, k in zip(apps[1:], kinds[1:], strict=True) if k == ("StatefulSet", True)]
    if sets:  # the first pod of a StatefulSet only: "some pod pairs" of the set
        s_ns, s_app, _ = sets[0]
        t_ns, t_app, _ = apps[1]
        first = {"apps.kubernetes.io/pod-index": "0", "app": s_app}
        peer = {"podSelector": {"matchLabels": first}}
        if s_ns != t_ns:
            peer["namespaceSelector"] = {"matchLabels": {"team": s_ns}}
        spec = {"podSelector": {"matchLabels": {"app": t_app}}, "ingress": [{"from": [peer]}]}
        docs.append(_in(policy(f"allow-{s_app}-0", **spec), t_ns))
    ns, app, _ = apps[0]
    egress = {
        "podSelector": {"matchLabels": {"app": app}},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": ns}}}]}],
    }
    docs.append(_in(policy(f"egress-{app}", **egress), ns))
    return docs


def state_of(pods: int, seed: int = 7) -> tuple[Manifests, ClusterState, list[Pod]]:
    """Manifests, cluster (on 1 node per 100 pods) and the user pods (as the CLI picks)."""
    manifests = load(*sized(pods, seed))
    state = build_cluster(manifests, max(1, pods // 100))
    return manifests, state, user_pods(manifests, state)
