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
from podnet.analyze.report.flows import DrawnNode, node_cells
from podnet.analyze.report.graph import Graph, build_graph, graph_data, graph_dot
from podnet.analyze.report.groups import groups_of
from podnet.model.cluster import ClusterState
from podnet.model.objects import NetworkPolicy, Pod

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


SRC, DST = "\u0001S", "\u0001D"  # the pair's pods in an explanation template


def _cells(m: Matrix, nodes: Sequence[DrawnNode]) -> dict[str, Any]:
    """The matrix per "port/proto", and the explanations it points to.

    ``matrix[port][dst group][src group]`` is ``[status, text index, source pod index,
    destination pod index]``: ``texts[i]`` is ``[reason, explanation]`` with the two pods
    written as :data:`SRC` and :data:`DST` (so that the same rule's verdict on other
    pods is one text, not thousands) and ``pod_keys[j]`` the pods.
    The statuses are :func:`podnet.analyze.report.flows.node_cells`', the very counts
    the drawing's edges come from, so the matrix and the edges cannot disagree.
    """
    ports: dict[str, dict[str, dict[str, list[Any]]]] = {}
    explained: dict[tuple[int, int, str], int] = {}
    texts: dict[tuple[str, str], int] = {}
    pod_index: dict[str, int] = {}
    budget = MAX_CELLS_EXPLAINED
    for (src, dst, port), (status, si, di) in sorted(
        node_cells(m, nodes).items(), key=lambda kv: _port_order(kv[0][2])
    ):
        s_key, d_key = m.classes[si].rep.key, m.classes[di].rep.key
        key = (si, di, port)
        if key not in explained and budget > 0:
            budget -= 1
            number, proto = port.split("/")
            v = m.verdict(m.classes[si].rep, m.classes[di].rep, int(number), proto)
            template = tuple(
                t.replace(s_key, SRC).replace(d_key, DST) for t in (v.reason, v.explain())
            )
            explained[key] = texts.setdefault((template[0], template[1]), len(texts))
        cell = [
            status,
            explained.get(key, -1),
            pod_index.setdefault(s_key, len(pod_index)),
            pod_index.setdefault(d_key, len(pod_index)),
        ]
        ports.setdefault(port, {}).setdefault(dst, {})[src] = cell
    return {
        "matrix": {"all": _overview(ports), **ports},
        "texts": [list(t) for t in texts],
        "pod_keys": list(pod_index),
    }


def cell_text(data: dict[str, Any], cell: Sequence[Any]) -> tuple[str, str]:
    """(reason, explanation) of a per-port cell, as the page's script writes them."""
    if cell[1] < 0:
        return "", ""
    src, dst = data["pod_keys"][cell[2]], data["pod_keys"][cell[3]]
    reason, text = data["texts"][cell[1]]
    return (
        reason.replace(DST, dst).replace(SRC, src),
        text.replace(DST, dst).replace(SRC, src),
    )


def _port_order(port: str) -> tuple[int, str]:
    number, proto = port.split("/")
    return int(number), proto


def _overview(ports: dict[str, dict[str, dict[str, list[Any]]]]) -> dict[str, dict[str, list[str]]]:
    """Every port at once: [status, port, port, ...]; the script looks the ports up.

    The status over ports: ``all`` / ``none`` when every port's cell is; ``some`` when
    some port is allowed for some pod pairs only; ``ports`` when each port is all or
    nothing but the ports differ (the per-port ``some`` would misstate that).
    """
    out: dict[str, dict[str, list[str]]] = {}
    for port in sorted(ports, key=_port_order):
        for dst, row in ports[port].items():
            for src, cell in row.items():
                got = out.setdefault(dst, {}).get(src)
                if got is None:
                    out[dst][src] = [cell[0], port]
                    continue
                if "some" in (got[0], cell[0]):
                    got[0] = "some"
                elif got[0] != cell[0]:
                    got[0] = "ports"
                got.append(port)
    return out


def _focus(m: Matrix, graph: Graph, state: ClusterState, title: str) -> dict[str, Any]:
    """Per namespace, its own drawing, when the whole one is big (laid out by fdp).

    ``focus[ns]`` is the graph data of :func:`build_graph` with ``focus=ns`` (ids prefixed
    ``f<i>-``), ``focus_dots[ns]`` its DOT (the page lays it out and drops it).
    """
    if graph.layout != "fdp":
        return {}
    focus: dict[str, Any] = {}
    dots: dict[str, str] = {}
    for i, ns in enumerate(sorted({n.namespace for n in graph.nodes})):
        g = build_graph(m, graph.level, state, ns)
        focus[ns] = graph_data(g, f"f{i}-")
        dots[ns] = graph_dot(g, f"{title}: {ns}", f"f{i}-")
    return {"focus": focus, "focus_dots": dots}


def build_report_data(
    state: ClusterState,
    findings: Sequence[Finding],
    title: str = "podnet report",
    pods: Sequence[Pod] | None = None,
) -> dict[str, Any]:
    """The report's facts over ``pods`` (default: all of ``state``'s, as ``analyze --all``).

    Pods without an IP (Pending) are listed apart and take part in no connection, as in
    ``podnet analyze``; the drawing is :func:`podnet.analyze.report.graph.matrix_dot`'s
    graph of the same matrix at the workload level.
    """
    chosen = list(state.pods if pods is None else pods)
    m = compute_matrix(state, chosen)
    graph = build_graph(m, "workload", state)
    groups = groups_of(m.pods)
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
        **_cells(m, graph.nodes),
        "graph": graph_data(graph),
        "dot": graph_dot(graph, title),
        **_focus(m, graph, state, title),
        "pods": len(m.pods),
        "pending": sorted(p.key for p in chosen if p.ip is None),
        "counts": {"connections": total, "allowed": allowed},
        "findings": [f.to_dict() for f in findings],
    }
