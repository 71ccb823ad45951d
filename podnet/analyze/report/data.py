"""The facts a report shows, as plain JSON-able data (the HTML only renders these).

Large clusters stay readable by drawing *groups*, not pods: the pods of one workload
(``owner``) in one namespace form a group, bare pods are groups of one. The matrix is
per port, between groups; a cell is ``all`` / ``none`` / ``some`` of the group's pod
pairs allowed, with the explanation of one representative pair (pods of a group share
labels and template, so they almost always share the verdict; ``some`` says when not).
Verdicts come from :mod:`podnet.analyze.matrix` (bitsets per pod class), explanations
from the policy engine, memoised per class pair; they name the tier and rule that
decided (Admin, NetworkPolicy, Baseline). The cluster admin's policies are listed in
evaluation order (:mod:`podnet.analyze.report.cluster`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from podnet.analyze.lint.finding import Finding
from podnet.analyze.matrix import Matrix, compute_matrix
from podnet.analyze.report.cluster import cluster_policy_data
from podnet.analyze.report.groups import Group, groups_of
from podnet.model.cluster import ClusterState
from podnet.model.objects import NetworkPolicy

MAX_CELLS_EXPLAINED = 20000


def _policy_dict(pol: NetworkPolicy, selected: list[str]) -> dict[str, Any]:
    return {
        "name": pol.key,
        "selector": str(pol.pod_selector),
        "types": list(pol.policy_types),
        "ingress_rules": len(pol.ingress),
        "egress_rules": len(pol.egress),
        "selects": selected,
    }


def _cells(m: Matrix, groups: list[Group]) -> dict[str, Any]:
    """Per "port/proto": {dst group id: {src group id: [status, reason, explanation]}}."""
    ports: dict[str, dict[str, dict[str, list[str]]]] = {}
    explained: dict[tuple[int, int, int, str], tuple[str, str]] = {}
    budget = MAX_CELLS_EXPLAINED
    src_pairs = {
        g.id: [(m.class_of[s.key], s) for s in g.pods if s.key in m.class_of] for g in groups
    }
    for dst in groups:
        dst_classes = sorted({m.class_of[p.key] for p in dst.pods if p.key in m.class_of})
        for di in dst_classes:
            for port, proto in m.classes[di].ports:
                row = ports.setdefault(f"{port}/{proto}", {}).setdefault(dst.id, {})
                bits = m.allowed_from.get((di, port, proto), 0)
                for src in groups:
                    pairs = src_pairs[src.id]
                    if not pairs or (src is dst and len(dst.pods) == 1):
                        continue
                    ok = [bool(bits >> si & 1) for si, _ in pairs]
                    status = "all" if all(ok) else "none" if not any(ok) else "some"
                    prev = row.get(src.id)
                    if prev is not None and prev[0] != status:
                        status = "some"
                    si, srep = pairs[0]
                    key = (si, di, port, proto)
                    if key not in explained and budget > 0:
                        budget -= 1
                        v = m.verdict(srep, m.classes[di].rep, port, proto)
                        explained[key] = (v.reason, v.explain())
                    reason, text = explained.get(key, ("", ""))
                    row[src.id] = [status, reason, text]
    return {"all": _overview(ports), **ports}


def _overview(ports: dict[str, dict[str, dict[str, list[str]]]]) -> dict[str, dict[str, list[str]]]:
    """Every port at once: [status, port, port, ...]; the script looks the ports up."""
    out: dict[str, dict[str, list[str]]] = {}
    for port in sorted(ports, key=lambda p: (int(p.split("/")[0]), p)):
        for dst, row in ports[port].items():
            for src, cell in row.items():
                got = out.setdefault(dst, {}).get(src)
                if got is None:
                    out[dst][src] = [cell[0], port]
                else:
                    got[0] = cell[0] if got[0] == cell[0] else "some"
                    got.append(port)
    return out


def build_report_data(
    state: ClusterState, findings: Sequence[Finding], title: str = "podnet report"
) -> dict[str, Any]:
    m = compute_matrix(state)
    groups = groups_of(state.pods)
    group_of = {p.key: g.id for g in groups for p in g.pods}
    services = []
    for s in state.services:
        eps = state.endpoints.get(s.key, {})
        services.append(
            {
                "name": s.key,
                "type": s.type,
                "cluster_ip": s.cluster_ip,
                "ports": [
                    {
                        "port": p.port,
                        "target": str(p.target_port),
                        "protocol": p.protocol,
                        "name": p.name,
                        "endpoints": [f"{e.pod} {e.ip}:{e.port}" for e in eps.get(p.name, ())],
                    }
                    for p in s.ports
                ],
                "groups": sorted(
                    {group_of[e.pod] for es in eps.values() for e in es if e.pod in group_of}
                ),
            }
        )
    policies = [
        _policy_dict(
            pol,
            [
                g.id
                for g in groups
                if g.namespace == pol.namespace
                and any(pol.pod_selector.matches(p.labels) for p in g.pods)
            ],
        )
        for pol in state.policies
    ]
    cluster = cluster_policy_data(state, {g.id: g.pods for g in groups})
    total, allowed = m.counts()
    return {
        "title": title,
        "nodes": [
            {"name": n.name, "address": n.address, "pod_cidr": n.pod_cidr} for n in state.nodes
        ],
        "groups": [
            {
                "id": g.id,
                "namespace": g.namespace,
                "label": g.label,
                "pods": [{"name": p.name, "ip": p.ip, "node": p.node} for p in g.pods],
                "policies": [pl["name"] for pl in policies if g.id in pl["selects"]],
                "cluster_policies": [c["name"] for c in cluster if g.id in c["selects"]],
            }
            for g in groups
        ],
        "services": services,
        "policies": policies,
        "cluster_policies": cluster,
        "matrix": _cells(m, groups),
        "counts": {"connections": total, "allowed": allowed},
        "findings": [f.to_dict() for f in findings],
    }
