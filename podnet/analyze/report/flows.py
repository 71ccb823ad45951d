"""Allowed flows between drawn nodes, from the matrix's bitsets, compressed into edges.

A drawn node is a pod (``level="pod"``) or a group (a workload's pods in one namespace,
:func:`podnet.analyze.report.data.groups_of`; ``level="workload"``). Per (source node,
destination node, port) the flow is ``all`` or ``some`` of the pod pairs allowed
(pairs of a pod with itself never count); pairs are counted per class, not per pod.

Drawing every pair would be n² edges when nothing is isolated (the Kubernetes default:
every pod may reach every pod), so edges are compressed without losing a pair: when
*every* node is an ``all`` source of a destination on a port, one edge comes from the
"any pod" node; else when every node of another namespace is, one edge comes from that
namespace's box; an edge goes to a namespace's box when it reaches every node there
serving the port; nodes with the very same flows share them through a junction (a dot
with an unlabelled edge from each). :func:`expand` undoes it all, which is how the tests
check edges against the matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from podnet.analyze.matrix import Matrix

ANY = "*"  # tail of an edge from every node
NS_PREFIX = "ns:"  # tail "ns:<namespace>": from every node of that namespace
WL_PREFIX = "wl:"  # "wl:<ns>/<kind>/<name>": every pod of a workload's box (pod level)
JUNCTION = "j:"  # "j:<k>": a junction joining tails with the very same flows


@dataclass(frozen=True)
class DrawnNode:
    key: str  # pod key or group id
    namespace: str
    classes: tuple[tuple[int, int], ...]  # (class index, pods of it in this node)
    ports: frozenset[str] = frozenset()  # "80/TCP": served by some pod of it
    box: str | None = None  # pod level: the workload box it is drawn in (2+ pods)


@dataclass(frozen=True)
class Flow:
    """One edge: ``tail`` (node key, :data:`ANY`, ``ns:<name>``, ``j:<k>``) -> ``head``.

    ``head`` is a node key, ``ns:<name>`` or - for a junction's feeders, with no
    ports - ``j:<k>``.
    """

    tail: str
    head: str
    ports: tuple[str, ...]  # "80/TCP", port order
    partial: tuple[str, ...] = ()  # of ``ports``, those allowed for some pod pairs only


def _port_key(port: str) -> tuple[int, str]:
    number, proto = port.split("/")
    return int(number), proto


Cell = tuple[str, int, int]  # status ("all", "some", "none"), source class, dest class


def node_cells(m: Matrix, nodes: Sequence[DrawnNode]) -> dict[tuple[str, str, str], Cell]:
    """(source key, destination key, "port/proto") -> status and a representative pair.

    Every pair of nodes with at least one pod pair on a port the destination serves has
    a cell. The representative (source class, destination class) is a denied pair when
    there is one, so that a ``some`` cell explains what is missing.
    """
    out: dict[tuple[str, str, str], Cell] = {}
    for dst in nodes:
        ports: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for di, n in dst.classes:
            for served in m.classes[di].ports:
                ports.setdefault(served, []).append((di, n))
        for (port, proto), serving in ports.items():
            bits = [(m.allowed_from.get((di, port, proto), 0), di, n) for di, n in serving]
            name = f"{port}/{proto}"
            for src in nodes:
                total = allowed = 0
                rep: tuple[int, int] | None = None
                rep_denied = False
                for si, ns in src.classes:
                    for b, di, n in bits:
                        pairs = ns * n - (n if src is dst and si == di else 0)
                        if not pairs:
                            continue
                        total += pairs
                        if b >> si & 1:
                            allowed += pairs
                            rep = rep or (si, di)
                        elif not rep_denied:  # a denied pair explains more than an allowed
                            rep, rep_denied = (si, di), True
                if rep is not None:
                    status = "all" if allowed == total else "some" if allowed else "none"
                    out[(src.key, dst.key, name)] = (status, *rep)
    return out


def node_flows(m: Matrix, nodes: Sequence[DrawnNode]) -> dict[tuple[str, str, str], bool]:
    """(source key, destination key, "port/proto") -> all pod pairs allowed (else some).

    Only allowed flows are present.
    """
    return {k: c[0] == "all" for k, c in node_cells(m, nodes).items() if c[0] != "none"}


def _eligible(src: DrawnNode, dst: DrawnNode) -> bool:
    """Whether the pair has any pod pair (not a single pod with itself)."""
    return src is not dst or sum(n for _, n in dst.classes) > 1


def compress(
    nodes: Sequence[DrawnNode],
    flows: dict[tuple[str, str, str], bool],
    *,
    junctions: bool = True,
) -> list[Flow]:
    """Edges covering exactly ``flows`` (see the module docstring).

    Tails first, per destination and port: "any pod" when every node is a full source,
    else a namespace's box when every node in it is, else a workload's box (pod level).
    Then heads, per tail and port: a namespace's, else a workload's box when the edges
    reach every node in it serving the port (fully) - unless the tail is inside that box
    or contains it (Graphviz cannot clip an edge at a box it starts in).
    """
    ns_boxes: dict[str, list[DrawnNode]] = {}
    wl_boxes: dict[str, list[DrawnNode]] = {}
    for n in nodes:
        ns_boxes.setdefault(NS_PREFIX + n.namespace, []).append(n)
        if n.box is not None:
            wl_boxes.setdefault(WL_PREFIX + n.box, []).append(n)
    by_key = {n.key: n for n in nodes}
    heads: dict[str, dict[str, list[tuple[str, bool]]]] = {}  # head -> port -> (src, full)
    for (s_key, d_key, p_name), ok in flows.items():
        heads.setdefault(d_key, {}).setdefault(p_name, []).append((s_key, ok))
    triples: dict[tuple[str, str, str], bool] = {}  # (tail, head, port) -> full
    for dst in nodes:
        for port, sources in heads.get(dst.key, {}).items():
            full = {s for s, f in sources if f}
            covered: set[str] = set()
            eligible = [n.key for n in nodes if _eligible(n, dst)]
            if len(eligible) > 2 and full.issuperset(eligible):
                triples[(ANY, dst.key, port)] = True
                covered = set(eligible)
            else:
                for box, members in (*ns_boxes.items(), *wl_boxes.items()):
                    keys = [n.key for n in members]
                    if (
                        len(keys) > 1
                        and not _inside(dst.key, box, by_key)
                        and not covered.intersection(keys)
                        and full.issuperset(keys)
                    ):
                        triples[(box, dst.key, port)] = True
                        covered.update(keys)
            for src, f in sources:
                if src not in covered:
                    triples[(src, dst.key, port)] = f
    feeders = _junctions(triples) if junctions else []
    for group in (ns_boxes, wl_boxes):  # namespaces first, then workloads in what is left
        triples = _box_heads(triples, group, by_key)
    edges: dict[tuple[str, str], dict[str, bool]] = {}  # (tail, head) -> port -> full
    for (tail, head, port), f in triples.items():
        edges.setdefault((tail, head), {})[port] = f
    out = [Flow(t, j, ()) for t, j in feeders]
    for (tail, head), ports in sorted(edges.items()):
        order = sorted(ports, key=_port_key)
        out.append(Flow(tail, head, tuple(order), tuple(p for p in order if not ports[p])))
    return out


def _box_heads(
    triples: dict[tuple[str, str, str], bool],
    boxes: dict[str, list[DrawnNode]],
    by_key: dict[str, DrawnNode],
) -> dict[tuple[str, str, str], bool]:
    """Per tail and port, a box's heads replaced by the box when the edges reach (fully)
    every node in it serving the port and the tail is neither inside nor around it."""
    box_of: dict[str, str] = {n.key: b for b, members in boxes.items() for n in members}
    reached: dict[tuple[str, str, str], set[str]] = {}  # (tail, port, box) -> heads
    for (tail, head, port), f in triples.items():
        if f and head in box_of:
            reached.setdefault((tail, port, box_of[head]), set()).add(head)
    out: dict[tuple[str, str, str], bool] = {}
    for (tail, head, port), f in triples.items():
        box = box_of.get(head)
        if f and box is not None and not _inside(tail, box, by_key) and not _around(tail, box):
            serving = {n.key for n in boxes[box] if port in n.ports}
            if len(serving) > 1 and reached.get((tail, port, box)) == serving:
                out[(tail, box, port)] = True
                continue
        out[(tail, head, port)] = f
    return out


def _ns_of_box(box: str) -> str:
    """The namespace of ``ns:<name>`` or ``wl:<ns>/<kind>/<name>``."""
    return box.split(":", 1)[1].split("/", 1)[0]


def _inside(end: str, box: str, by_key: dict[str, DrawnNode]) -> bool:
    """Whether the edge end ``end`` (a node, a box, "any", a junction) is within ``box``."""
    if end == box:
        return True
    node = by_key.get(end)
    if node is not None:
        if box.startswith(NS_PREFIX):
            return node.namespace == box[len(NS_PREFIX) :]
        return node.box is not None and WL_PREFIX + node.box == box
    return (
        end.startswith(WL_PREFIX)
        and box.startswith(NS_PREFIX)
        and _ns_of_box(end) == _ns_of_box(box)
    )


def _around(end: str, box: str) -> bool:
    """Whether the box end ``end`` contains ``box`` (a namespace around its workload)."""
    return (
        end.startswith(NS_PREFIX)
        and box.startswith(WL_PREFIX)
        and _ns_of_box(end) == _ns_of_box(box)
    )


def _junctions(triples: dict[tuple[str, str, str], bool]) -> list[tuple[str, str]]:
    """Route node tails with the very same flows (3+) through one junction, in place.

    ``k`` tails with ``n`` flows each drew ``k*n`` edges; through a junction ``k+n``.
    Returns the (tail, junction) feeder edges.
    """
    by_tail: dict[str, set[tuple[str, str, bool]]] = {}
    for (t, h, p), f in triples.items():
        if t != ANY and not t.startswith((NS_PREFIX, WL_PREFIX)):
            by_tail.setdefault(t, set()).add((h, p, f))
    same: dict[frozenset[tuple[str, str, bool]], list[str]] = {}
    for t, items in by_tail.items():
        if len(items) >= 3:
            same.setdefault(frozenset(items), []).append(t)
    feeders: list[tuple[str, str]] = []
    k = 0
    for group, tails in same.items():
        if len(tails) < 2:
            continue
        j = f"{JUNCTION}{k}"
        k += 1
        for t in sorted(tails):
            feeders.append((t, j))
            for h, p, _ in group:
                del triples[(t, h, p)]
        for h, p, f in sorted(group):
            triples[(j, h, p)] = f
    return feeders


def expand(edges: Iterable[Flow], nodes: Sequence[DrawnNode]) -> dict[tuple[str, str, str], bool]:
    """The (source, destination, port) -> full flows the edges stand for."""
    by_key = {n.key: n for n in nodes}
    fed: dict[str, list[str]] = {}  # junction -> its tails
    for e in edges:
        if e.head.startswith(JUNCTION):
            fed.setdefault(e.head, []).append(e.tail)
    out: dict[tuple[str, str, str], bool] = {}
    for e in edges:
        for p in e.ports:
            if e.head.startswith((NS_PREFIX, WL_PREFIX)):
                heads = [n for n in _members(e.head, nodes) if p in n.ports]
            else:
                heads = [by_key[e.head]]
            for head in heads:
                if e.tail == ANY:
                    tails = [n.key for n in nodes if _eligible(n, head)]
                elif e.tail.startswith((NS_PREFIX, WL_PREFIX)):
                    tails = [n.key for n in _members(e.tail, nodes)]
                elif e.tail.startswith(JUNCTION):
                    tails = fed[e.tail]
                else:
                    tails = [e.tail]
                for t in tails:
                    out[(t, head.key, p)] = p not in e.partial
    return out


def _members(box: str, nodes: Sequence[DrawnNode]) -> list[DrawnNode]:
    if box.startswith(NS_PREFIX):
        return [n for n in nodes if n.namespace == box[len(NS_PREFIX) :]]
    return [n for n in nodes if n.box is not None and WL_PREFIX + n.box == box]
