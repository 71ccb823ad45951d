"""The connectivity result as a Graphviz graph: ``podnet analyze -o dot`` and the report.

One function, :func:`matrix_dot`, writes the DOT source; the report lays the very same
source out with ``dot -Tsvg`` (:mod:`podnet.analyze.report.layout`), so
``podnet analyze -o dot | dot -Tsvg`` draws the report's picture. The graph:

- a box (cluster) per namespace; at ``level="pod"`` a nested box per workload with more
  than one pod, a node per pod; at ``level="workload"`` a node per group (a workload's
  pods, or a bare pod: :func:`podnet.analyze.report.groups.groups_of`);
- Services (given ``state``) as nodes in their namespace's box, with dashed lines to the
  nodes holding their endpoints;
- allowed flows as green arrows labelled with ports (dashed orange: allowed for some pod
  pairs only), compressed as :mod:`podnet.analyze.report.flows` says; an arrow from
  "any pod" or from a namespace's box stands for one from each node in it, an arrow to a
  namespace's box for one to each node in it serving the port; a junction (a dot) joins
  nodes with the very same flows.

Past :data:`BIG_FLOWS` flow edges the source asks for Graphviz's ``fdp`` layout
(``layout=fdp``: namespace boxes side by side, straight edges, ports in the tooltips, no
junctions) - still one DOT that ``dot -Tsvg`` renders as the report does. (Graphviz
2.43's fdp places the boxes differently from run to run, whatever ``start`` says; the
nodes and edges are the same.)
Nodes, edges and boxes carry ``id``/``class`` attributes (Graphviz copies them into the
SVG) so the page's script can filter them. Output is deterministic (sorted).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from podnet.analyze.matrix import Matrix
from podnet.analyze.report.flows import (
    ANY,
    JUNCTION,
    NS_PREFIX,
    WL_PREFIX,
    DrawnNode,
    Flow,
    compress,
    node_flows,
)
from podnet.analyze.report.groups import groups_of
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

LEVELS = ("pod", "workload")
PALETTE = (
    "#2563eb",
    "#059669",
    "#d97706",
    "#7c3aed",
    "#db2777",
    "#0891b2",
    "#65a30d",
    "#dc2626",
    "#4f46e5",
    "#0d9488",
)
FLOW_COLOUR, SOME_COLOUR, ROUTE_COLOUR = "#16a34a", "#d97706", "#6366f1"
# More flow edges than this: Graphviz's fdp (force-directed, namespace boxes side by
# side, straight edges, ports in tooltips) instead of dot. dot's ranks put hundreds of
# edges between boxes into a picture many times taller than wide, after most of a minute.
BIG_FLOWS = 150
PORTS_SHOWN = 4  # on an edge's label; its tooltip lists them all


def ns_colour(namespace: str) -> str:
    return PALETTE[zlib.crc32(namespace.encode()) % len(PALETTE)]


@dataclass(frozen=True)
class ServiceNode:
    key: str  # ns/name
    namespace: str
    label: str
    targets: tuple[str, ...]  # drawn node keys holding endpoints


@dataclass(frozen=True)
class Graph:
    """What :func:`graph_dot` draws (and the report's script filters)."""

    level: str
    nodes: tuple[DrawnNode, ...]
    labels: dict[str, str]  # node key -> text
    boxes: dict[str, str]  # node key -> workload box id (pod level, workloads of 2+)
    flows: tuple[Flow, ...]
    services: tuple[ServiceNode, ...]
    layout: str = "dot"  # or "fdp" for big graphs (see BIG_FLOWS)
    # namespaces drawn as one node standing for their nodes (a focus's other namespaces
    # that edges reach only as a whole): the DOT has the node "ns:<name>" for the box
    collapsed: frozenset[str] = frozenset()


def _workload(pod: Pod) -> str:
    if pod.owner and "/" in pod.owner:
        kind, name = pod.owner.split("/", 1)
        return f"{pod.namespace}/{kind.lower()}/{name}"
    return f"{pod.namespace}/pod/{pod.name}"


def build_graph(
    m: Matrix,
    level: str = "workload",
    state: ClusterState | None = None,
    focus: str | None = None,
) -> Graph:
    """The graph of ``m`` (its pods: those with an IP) at ``level``.

    With ``focus`` (a namespace): only the flows into or out of it, with its nodes and
    Services and the nodes of other namespaces at the other end of those flows ("any
    pod" and a namespace's box then mean the pods drawn).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    labels: dict[str, str] = {}
    boxes: dict[str, str] = {}
    nodes: list[DrawnNode] = []
    owner: dict[str, str] = {}  # pod key -> node key
    if level == "pod":
        sizes: dict[str, int] = {}
        for p in m.pods:
            sizes[_workload(p)] = sizes.get(_workload(p), 0) + 1
        for p in m.pods:
            ci = m.class_of[p.key]
            box = _workload(p) if sizes[_workload(p)] > 1 else None
            nodes.append(DrawnNode(p.key, p.namespace, ((ci, 1),), _ports(m, [ci]), box))
            labels[p.key] = f"{p.name}\n{p.ip}"
            owner[p.key] = p.key
            if box is not None:
                boxes[p.key] = box
    else:
        for g in groups_of(m.pods):
            counts: dict[int, int] = {}
            for p in g.pods:
                counts[m.class_of[p.key]] = counts.get(m.class_of[p.key], 0) + 1
                owner[p.key] = g.id
            nodes.append(
                DrawnNode(g.id, g.namespace, tuple(sorted(counts.items())), _ports(m, counts))
            )
            n = len(g.pods)
            labels[g.id] = g.label + (f"\n{n} pods" if n > 1 else f"\n{g.pods[0].ip}")
    allowed = node_flows(m, nodes)
    services = _services(state, owner)
    if focus is not None:
        ns_of = {n.key: n.namespace for n in nodes}
        allowed = {k: v for k, v in allowed.items() if focus in (ns_of[k[0]], ns_of[k[1]])}
        ends = {k for s, d, _ in allowed for k in (s, d)}
        nodes = [n for n in nodes if n.namespace == focus or n.key in ends]
        services = tuple(s for s in services if s.namespace == focus)
    flows, layout = tuple(compress(nodes, allowed)), "dot"
    if sum(1 for f in flows if f.ports) > BIG_FLOWS:
        flows, layout = tuple(compress(nodes, allowed, junctions=False)), "fdp"
    collapsed: frozenset[str] = frozenset()
    if focus is not None:
        ends = {k for f in flows for k in (f.tail, f.head)}
        used = {n.namespace for n in nodes if n.key in ends or f"{WL_PREFIX}{n.box}" in ends}
        collapsed = frozenset(n.namespace for n in nodes if n.namespace != focus) - used
    return Graph(level, tuple(nodes), labels, boxes, flows, services, layout, collapsed)


def _ports(m: Matrix, classes: Iterable[int]) -> frozenset[str]:
    return frozenset(f"{port}/{proto}" for c in classes for port, proto in m.classes[c].ports)


def _services(state: ClusterState | None, owner: dict[str, str]) -> tuple[ServiceNode, ...]:
    """Services with an endpoint among the drawn pods (others are in the tables only)."""
    if state is None:
        return ()
    out = []
    for s in sorted(state.services, key=lambda s: s.key):
        eps = state.endpoints.get(s.key, {})
        targets = sorted({owner[e.pod] for es in eps.values() for e in es if e.pod in owner})
        if not targets:
            continue
        ports = ", ".join(f"{p.port}/{p.protocol}" for p in s.ports[:PORTS_SHOWN])
        more = f" +{len(s.ports) - PORTS_SHOWN}" if len(s.ports) > PORTS_SHOWN else ""
        label = f"svc/{s.name}\n{s.cluster_ip or 'no IP'} {ports}{more}"
        out.append(ServiceNode(s.key, s.namespace, label, tuple(targets)))
    return tuple(out)


def graph_data(g: Graph, prefix: str = "") -> dict[str, Any]:
    """The graph as JSON-able data keyed by the SVG ids :func:`graph_dot` gives."""
    routes: list[list[str]] = []
    ri = 0
    for s in g.services:
        routes.append([f"{prefix}r{ri + k}" for k in range(len(s.targets))])
        ri += len(s.targets)
    return {
        "level": g.level,
        "layout": g.layout,
        "collapsed": sorted(g.collapsed),
        "nodes": [
            {"id": f"{prefix}n{i}", "key": n.key, "namespace": n.namespace, "box": n.box}
            for i, n in enumerate(g.nodes)
        ],
        "services": [
            {
                "id": f"{prefix}s{i}",
                "key": s.key,
                "namespace": s.namespace,
                "targets": list(s.targets),
                "routes": routes[i],
            }
            for i, s in enumerate(g.services)
        ],
        "edges": [
            {
                "id": f"{prefix}e{i}",
                "tail": f.tail,
                "head": f.head,
                "ports": list(f.ports),
                "partial": list(f.partial),
            }
            for i, f in enumerate(g.flows)
        ],
    }


def q(s: str) -> str:
    """A DOT double-quoted string (newlines become DOT's centred line breaks)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kv: str) -> str:
    return "[" + " ".join(f"{k}={q(v)}" for k, v in kv.items()) + "]"


def _tint(colour: str) -> str:
    """A very light shade of ``colour`` (for a namespace box's fill)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c + (255 - c) * 0.92) for c in (r, g, b)))


def _ports_label(ports: Sequence[str]) -> str:
    shown = ", ".join(ports[:PORTS_SHOWN])
    return shown + (f" +{len(ports) - PORTS_SHOWN}" if len(ports) > PORTS_SHOWN else "")


def graph_dot(g: Graph, title: str = "podnet", prefix: str = "") -> str:
    """DOT source for ``g``: ids n<i> (nodes), s<i> (Services), e<i> (flows), r<i> (routes)."""
    big = g.layout == "fdp"
    p = prefix  # before every id: several drawings share one page
    ids = {n.key: f"{p}n{i}" for i, n in enumerate(g.nodes)}
    sids = {s.key: f"{p}s{i}" for i, s in enumerate(g.services)}
    out = [
        f"digraph {q(title)} {{",
        "  graph ["
        + ("layout=fdp K=0.5 sep=0.3 " if big else "rankdir=LR compound=true newrank=true ")
        + 'nodesep=0.25 ranksep=1.1 fontname="Helvetica" fontsize=12 pad=0.2 '
        "outputorder=edgesfirst]",
        '  node [shape=box style="rounded,filled" fillcolor="#ffffff" fontname="Helvetica" '
        'fontsize=11 margin="0.12,0.04"]',
        '  edge [fontname="Helvetica" fontsize=9 arrowsize=0.6]',
    ]
    namespaces = sorted({n.namespace for n in g.nodes} | {s.namespace for s in g.services})
    first: dict[str, str] = {}  # box end -> a node inside the box (for ltail, lhead)
    for ci, ns in enumerate(namespaces):
        col = ns_colour(ns)
        out.append(f"  subgraph {q('cluster_ns_' + ns)} {{")
        out.append(
            "    graph "
            + _attrs(
                id=f"{p}ns{ci}",
                label=ns,
                style="rounded,filled",
                color=col,
                fillcolor=_tint(col),
                fontcolor=col,
                labeljust="l",
                **{"class": "ns"},
            )
        )
        members = [n for n in g.nodes if n.namespace == ns]
        if ns in g.collapsed:
            first[NS_PREFIX + ns] = NS_PREFIX + ns
            what = "pods" if g.level == "pod" else "workloads"
            attrs = _attrs(
                id=f"{p}c{ci}",
                label=f"{len(members)} {what}",
                color=col,
                style="rounded,dashed,filled",
                tooltip=", ".join(n.key for n in members),
                **{"class": "members"},
            )
            out.append(f"    {q(NS_PREFIX + ns)} {attrs}")
            members = []
        elif members:
            first[NS_PREFIX + ns] = members[0].key
        boxed: dict[str, list[DrawnNode]] = {}
        for n in members:
            if n.key in g.boxes:
                boxed.setdefault(g.boxes[n.key], []).append(n)
            else:
                out.append(f"    {q(n.key)} {_node(n, ids, g, col)}")
        for wi, (box, pods) in enumerate(boxed.items()):
            out.append(f"    subgraph {q('cluster_wl_' + box)} {{")
            label = box.split("/", 1)[1]
            out.append(
                "      graph "
                + _attrs(id=f"{p}wl{ci}_{wi}", label=label, style="rounded,dashed", color=col)
            )
            out.extend(f"      {q(n.key)} {_node(n, ids, g, col)}" for n in pods)
            first[WL_PREFIX + box] = pods[0].key
            out.append("    }")
        for s in g.services:
            if s.namespace == ns:
                attrs = _attrs(
                    id=sids[s.key],
                    label=s.label,
                    fillcolor="#eef2ff",
                    color=ROUTE_COLOUR,
                    fontcolor="#3730a3",
                    tooltip=s.key,
                    **{"class": "svc"},
                )
                out.append(f"    {q('svc:' + s.key)} {attrs}")
        out.append("  }")
    if any(f.tail == ANY for f in g.flows):
        out.append(
            f"  {q(ANY)} "
            + _attrs(
                id=f"{p}any",
                label="any pod",
                shape="ellipse",
                style="filled",
                fillcolor="#dcfce7",
                color=FLOW_COLOUR,
                **{"class": "any"},
            )
        )
    junctions = sorted({f.head for f in g.flows if f.head.startswith(JUNCTION)})
    for j in junctions:
        attrs = _attrs(
            id=f"{p}j" + j[len(JUNCTION) :],
            label="",
            shape="point",
            width="0.14",
            style="filled",
            fillcolor=FLOW_COLOUR,
            color=FLOW_COLOUR,
            tooltip="junction: every arrow in continues along every arrow out",
            **{"class": "junction"},
        )
        out.append(f"  {q(j)} {attrs}")
    ri = 0
    for s in g.services:
        for t in s.targets:
            out.append(
                f"  {q('svc:' + s.key)} -> {q(t)} "
                + _attrs(
                    id=f"{p}r{ri}",
                    style="dashed",
                    color=ROUTE_COLOUR,
                    arrowhead="none",
                    **{"class": "route"},
                )
            )
            ri += 1
    for i, f in enumerate(g.flows):
        extra: dict[str, str] = {}
        tail, head, box = f.tail, f.head, ""
        # a box (namespace, workload): dot clips an edge of a node inside at the box
        # (ltail/lhead), fdp takes the box's name as the end itself
        if f.tail.startswith((NS_PREFIX, WL_PREFIX)):
            box = _cluster(f.tail)
            tail = box if big else first[f.tail]
            if not big:
                extra["ltail"] = box
        if f.head.startswith((NS_PREFIX, WL_PREFIX)):
            box = _cluster(f.head)
            head = box if big else first[f.head]
            if not big:
                extra["lhead"] = box
        if f.head.startswith(JUNCTION):
            attrs = _attrs(
                id=f"{p}e{i}",
                color=FLOW_COLOUR,
                arrowhead="none",
                **{"class": "flow feed"},
            )
            out.append(f"  {q(tail)} -> {q(head)} {attrs}")
            continue
        partial = bool(f.partial)
        tip = f"{f.tail} -> {f.head}: " + ", ".join(
            p + (" (some pod pairs)" if p in f.partial else "") for p in f.ports
        )
        out.append(
            f"  {q(tail)} -> {q(head)} "
            + _attrs(
                id=f"{p}e{i}",
                label="" if big else _ports_label(f.ports),
                color=SOME_COLOUR if partial else FLOW_COLOUR,
                fontcolor=SOME_COLOUR if partial else "#15803d",
                style="dashed" if partial else "solid",
                tooltip=tip,
                **{"class": "flow" + (" some" if partial else "") + (" ns-end" if box else "")},
                **extra,
            )
        )
    out.append("}")
    return "\n".join(out) + "\n"


def _cluster(end: str) -> str:
    """The DOT cluster of a box end (``ns:<name>`` or ``wl:<box>``)."""
    if end.startswith(NS_PREFIX):
        return "cluster_ns_" + end[len(NS_PREFIX) :]
    return "cluster_wl_" + end[len(WL_PREFIX) :]


def _node(n: DrawnNode, ids: dict[str, str], g: Graph, colour: str) -> str:
    return _attrs(
        id=ids[n.key], label=g.labels[n.key], color=colour, tooltip=n.key, **{"class": "pn"}
    )


def matrix_dot(
    matrix: Matrix,
    *,
    level: str = "workload",
    state: ClusterState | None = None,
    title: str = "podnet",
) -> str:
    """DOT source for the connectivity result ``matrix`` at ``level`` ("pod"|"workload").

    ``state`` (the cluster the matrix was computed on) adds its Services; pass it for the
    report's picture. Raises ValueError for another ``level``.
    """
    return graph_dot(build_graph(matrix, level, state), title)
