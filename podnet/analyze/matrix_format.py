"""Rendering the connectivity matrix: the ``-o json`` contract and tables for people.

JSON (stable; other tools read it; docs/output-contract.md), after the caller's
``apiVersion``, ``kind`` and ``level``::

    {"pods": [{"namespace", "name", "ip", "node"}, ...],
     "connections": [{"from", "to", "port", "protocol", "allowed", "reason"}, ...]}

``connections`` lists every ordered pair of distinct scheduled pods for every port the
destination serves, sorted by from, to, port, protocol.

The table is one grid per port/protocol (rows = from, columns = to, numbered so it
fits 80 columns); clusters too big for a grid get a list of class pairs instead
(pods with identical policy-relevant attributes grouped as ``ns/prefix* (n pods)``):
one line per destination class with the sources allowed in. At ``--level workload`` the
grid's rows and columns are workloads (:mod:`matrix_levels` keys), a cell all, some or
none of their pod pairs.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import yaml

from podnet.analyze.classes import PodClass
from podnet.analyze.matrix import Connection, Matrix
from podnet.analyze.matrix_levels import Endpoint, PortFlow, cells
from podnet.control.policy.explain import describe_cluster_policy, describe_policy
from podnet.control.policy.tiers import tier_order
from podnet.model.clusterpolicy import ADMIN, BASELINE, ClusterNetworkPolicy
from podnet.model.objects import NetworkPolicy, Pod
from podnet.text import table

ALLOW, DENY, SELF = "✓", "✗", "·"
GRID_MAX_PODS = 24  # rows; also bounds the width: 24 columns x 3 + labels < 80 + a bit
WIDTH = 80
DESCRIBE_MAX_POLICIES = 8  # rule-by-rule descriptions only while they stay short
PENDING_SHOWN = 10  # named pending pods; beyond a node's 110 there can be thousands


def pods_json(pods: Sequence[Pod]) -> list[dict[str, Any]]:
    return [
        {"namespace": p.namespace, "name": p.name, "ip": p.ip, "node": p.node}
        for p in sorted(pods, key=lambda p: (p.namespace, p.name))
    ]


def connection_json(c: Connection) -> dict[str, Any]:
    return {
        "from": c.src.key,
        "to": c.dst.key,
        "port": c.port,
        "protocol": c.protocol,
        "allowed": c.allowed,
        "reason": c.reason,
    }


def to_json(matrix: Matrix, pods: Sequence[Pod]) -> dict[str, Any]:
    return {
        "pods": pods_json(pods),
        "connections": [connection_json(c) for c in matrix.connections()],
    }


def write_json(
    matrix: Matrix, pods: Sequence[Pod], out: TextIO, head: Mapping[str, Any] | None = None
) -> None:
    """:func:`to_json`, streamed: one connection per line, never all in memory. ``head``
    (the document's apiVersion and kind) comes first.

    1,000 pods give over a million connections; building them as one list of dicts and
    pretty-printing it took ~0.9 GiB and over two minutes.
    """
    first = "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in (head or {}).items())
    out.write("{\n" + first + '  "pods": ' + json.dumps(pods_json(pods)) + ',\n  "connections": [')
    sep = "\n    "
    batch: list[str] = []
    for c in matrix.connections():
        batch.append(sep + json.dumps(connection_json(c)))
        sep = ",\n    "
        if len(batch) >= 10000:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch) + "\n  ]\n}\n")


def write_yaml(
    matrix: Matrix, pods: Sequence[Pod], out: TextIO, head: Mapping[str, Any] | None = None
) -> None:
    """:func:`write_json`'s document as YAML, streamed the same way: each connection a
    flow mapping on its own line (JSON's syntax, which YAML reads as its own)."""
    out.write(yaml.safe_dump(dict(head or {}), sort_keys=False) if head else "")
    out.write(yaml.safe_dump({"pods": pods_json(pods)}, sort_keys=False))
    out.write("connections:")
    batch: list[str] = []
    n = 0
    for c in matrix.connections():
        batch.append("\n- " + json.dumps(connection_json(c)))
        n += 1
        if len(batch) >= 10000:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch) + ("\n" if n else " []\n"))


def _paint(cell: str, colour: bool) -> str:
    if not colour or cell == SELF:
        return cell
    code = {ALLOW: 32, SOME: 33}.get(cell, 31)  # green, yellow (some pod pairs), red
    return f"\x1b[{code}m{cell}\x1b[0m"


def _ports(matrix: Matrix) -> list[tuple[int, str]]:
    return sorted({p for c in matrix.classes for p in c.ports}, key=lambda p: (p[1], p[0]))


def _grid(matrix: Matrix, port: int, proto: str, colour: bool) -> str:
    pods = matrix.pods
    dsts = [d for d in pods if (port, proto) in matrix.classes[matrix.class_of[d.key]].ports]
    number = {d.key: i + 1 for i, d in enumerate(dsts)}
    label_w = max(len(f"{p.key} [{number[p.key]}]" if p.key in number else p.key) for p in pods)
    head = " " * label_w + " " + "".join(f"{number[d.key]:>3}" for d in dsts)
    lines = [f"{port}/{proto}  (rows: from, columns: to [n])", head.rstrip()]
    for src in pods:
        name = f"{src.key} [{number[src.key]}]" if src.key in number else src.key
        cells = []
        for d in dsts:
            cell = SELF if d is src else ALLOW if matrix.is_allowed(src, d, port, proto) else DENY
            cells.append("  " + _paint(cell, colour))
        lines.append(name.ljust(label_w) + " " + "".join(cells))
    return "\n".join(lines)


def class_name(c: PodClass) -> str:
    if len(c.pods) == 1:
        return c.rep.key
    names = [p.name for p in c.pods]
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    return f"{c.namespace}/{prefix}* ({len(c.pods)} pods)"


def _sources(matrix: Matrix, dst: PodClass, port: int, proto: str) -> str:
    """Who may connect to each pod of ``dst``: "all N", "none" or N and the first classes."""
    bits = matrix.allowed_from[(dst.index, port, proto)]
    allowed = [c for c in matrix.classes if bits >> c.index & 1]
    # pods other than the destination itself (members of one class see the same)
    n = sum(len(c.pods) for c in allowed) - (1 if bits >> dst.index & 1 else 0)
    others = len(matrix.pods) - 1
    if n <= 0:
        return "none"
    if n == others:
        return f"all {others} other pods"
    names = ", ".join(class_name(c) for c in allowed[:3])
    more = f", +{len(allowed) - 3} more" if len(allowed) > 3 else ""
    return f"{n} of {others}: {names}{more}"


def _dest_list(matrix: Matrix, port: int, proto: str, colour: bool) -> str:
    """For big clusters: one line per destination class saying which sources get in."""
    rows = []
    for dst in matrix.classes:
        if (port, proto) in dst.ports:
            rows.append([class_name(dst), _sources(matrix, dst, port, proto)])
    first = max((len(r[0]) for r in rows), default=2) + 3
    room = max(WIDTH - first, 20)
    for r in rows:
        if len(r[1]) > room:
            r[1] = r[1][: room - 1] + "…"
    return f"{port}/{proto}\n" + table(rows, ["TO", "ALLOWED FROM"])


def _cluster_summary(cluster: Sequence[ClusterNetworkPolicy]) -> str:
    """The cluster admin's policies in evaluation order: Admin tier, then Baseline."""
    ordered = [*tier_order(cluster, ADMIN), *tier_order(cluster, BASELINE)]
    rows = [
        [p.tier, str(p.priority), p.key, str(len(p.ingress)), str(len(p.egress))] for p in ordered
    ]
    text = table(rows, ["TIER", "PRIORITY", "POLICY", "IN", "OUT"])
    order = (
        "(evaluated per direction: Admin tier by priority, then NetworkPolicy, then"
        " Baseline tier; equal priorities by kind, then name)"
    )
    text += "\n" + textwrap.fill(order, WIDTH)
    if len(ordered) <= DESCRIBE_MAX_POLICIES:
        text += "\n\n" + "\n".join(_filled(describe_cluster_policy(p)) for p in ordered)
    return text


def _filled(lines: list[str]) -> str:
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        out.append(textwrap.fill(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False))
    return "\n".join(out)


def _policy_summary(
    policies: Sequence[NetworkPolicy], matrix: Matrix, cluster: Sequence[ClusterNetworkPolicy] = ()
) -> str:
    if not policies:
        if cluster:
            return "no NetworkPolicies; cluster policies:\n" + _cluster_summary(cluster)
        return "no NetworkPolicies: every pod may reach every other pod"
    rows = []
    for pol in sorted(policies, key=lambda p: (p.namespace, p.name)):
        n = sum(
            1
            for p in matrix.pods
            if p.namespace == pol.namespace and pol.pod_selector.matches(p.labels)
        )
        rows.append(
            [
                pol.namespace,
                pol.name,
                _clip(f"{pol.pod_selector} ({n})", 28),
                str(len(pol.ingress)) if "Ingress" in pol.policy_types else "-",
                str(len(pol.egress)) if "Egress" in pol.policy_types else "-",
            ]
        )
    text = table(rows, ["NAMESPACE", "NAME", "SELECTS (PODS)", "IN", "OUT"])
    text += "\n(IN/OUT: number of ingress/egress rules; - = not in policyTypes)"
    if len(policies) <= DESCRIBE_MAX_POLICIES:
        described = []
        for pol in sorted(policies, key=lambda p: (p.namespace, p.name)):
            for line in describe_policy(pol):
                indent = " " * (len(line) - len(line.lstrip()) + 4)
                described.append(
                    textwrap.fill(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False)
                )
        text += "\n\n" + "\n".join(described)
    if cluster:
        text += "\n\n" + _cluster_summary(cluster)
    return text


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def format_table(
    matrix: Matrix,
    policies: Sequence[NetworkPolicy],
    colour: bool = False,
    pending: Sequence[Pod] = (),
    grids: bool = True,
) -> str:
    """The summary, the policies and (unless not ``grids``) a grid or list per port."""
    total, allowed = matrix.counts()
    cluster = matrix.cluster_policies
    tiers = f", {len(cluster)} cluster policies" if cluster else ""
    parts = [
        textwrap.fill(
            f"{len(matrix.pods)} pods, {len(matrix.classes)} classes, {len(policies)} "
            f"NetworkPolicies{tiers}; {allowed}/{total} connections allowed",
            WIDTH,
        ),
        _policy_summary(policies, matrix, cluster),
    ]
    if pending:
        keys = sorted(p.key for p in pending)
        names = ", ".join(keys[:PENDING_SHOWN])
        if len(keys) > PENDING_SHOWN:
            names += f" and {len(keys) - PENDING_SHOWN} more"
        text = f"pending (not scheduled, no IP, in no connection): {names}"
        parts.insert(1, textwrap.fill(text, WIDTH))
    if not grids:
        return "\n\n".join(parts)
    label_w = max((len(p.key) for p in matrix.pods), default=0) + 5
    small = len(matrix.pods) <= GRID_MAX_PODS and label_w + 3 * len(matrix.pods) <= WIDTH
    for port, proto in _ports(matrix):
        render = _grid if small else _dest_list
        parts.append(render(matrix, port, proto, colour))
    if not _ports(matrix):
        parts.append("no pod serves any known port: nothing to check")
    return "\n\n".join(parts)


# --level workload: a cell stands for every pod pair of two workloads on one port
SOME = "~"
WORKLOAD_LEGEND = (
    f"{ALLOW} all pod pairs allowed, {SOME} some pod pairs, {DENY} none,"
    f" {SELF} no pod pair (a one-pod workload to itself)"
)


def _mark(flow: PortFlow | None) -> str:
    if flow is None:
        return SELF
    if flow.allowed_pairs == flow.pairs:
        return ALLOW
    return SOME if flow.allowed_pairs else DENY


def _workload_grid(
    eps: Sequence[Endpoint], by: Mapping[tuple[str, str], PortFlow], head: str, colour: bool
) -> str:
    """One port's grid at workload level: rows from, columns to (the workloads the port
    has a pod pair into), as the pod-level grid but with :data:`SOME` for partial."""
    dsts = [d for d in eps if any((s.key, d.key) in by for s in eps)]
    number = {d.key: i + 1 for i, d in enumerate(dsts)}
    labels = [f"{e.key} [{number[e.key]}]" if e.key in number else e.key for e in eps]
    label_w = max(map(len, labels))
    lines = [f"{head}  (rows: from, columns: to [n])"]
    lines.append((" " * label_w + " " + "".join(f"{number[d.key]:>3}" for d in dsts)).rstrip())
    for src, label in zip(eps, labels, strict=True):
        cells = "".join("  " + _paint(_mark(by.get((src.key, d.key))), colour) for d in dsts)
        lines.append(label.ljust(label_w) + " " + cells)
    return "\n".join(lines)


def _workload_list(
    eps: Sequence[Endpoint], by: Mapping[tuple[str, str], PortFlow], head: str
) -> str:
    """Too many workloads for a grid: per destination, the sources let in, those let in
    for only some pod pairs marked ``~ (n/m)``."""
    rows = []
    for d in eps:
        ins = [(s, by[(s.key, d.key)]) for s in eps if (s.key, d.key) in by]
        if not ins:
            continue
        ok = [s for s, f in ins if f.allowed_pairs]
        if not ok:
            text = "none"
        elif len(ok) == len(ins) and all(f.allowed_pairs == f.pairs for _, f in ins):
            text = f"all {len(ins)}"
        else:
            names = [
                s.key
                if f.allowed_pairs == f.pairs
                else f"{SOME}{s.key} ({f.allowed_pairs}/{f.pairs})"
                for s, f in ins
                if f.allowed_pairs
            ]
            text = f"{len(ok)} of {len(ins)}: " + ", ".join(names)
        rows.append([d.key, text])
    room = max(WIDTH - max((len(r[0]) for r in rows), default=2) - 3, 20)
    rows = [[k, _clip(t, room)] for k, t in rows]
    return f"{head}\n" + table(rows, ["TO", "ALLOWED FROM"])


def format_workload_table(
    matrix: Matrix,
    policies: Sequence[NetworkPolicy],
    colour: bool = False,
    pending: Sequence[Pod] = (),
) -> str:
    """:func:`format_table` at ``--level workload``: the same summary and policies, then
    per port a grid of workloads (keys as in the workload-level JSON) with a legend."""
    eps, all_cells = cells(matrix, "workload")
    text = format_table(matrix, policies, colour, pending, grids=False)
    first, rest = text.split("\n\n", 1)
    first = textwrap.fill(first.replace("\n", " ") + f"; {len(eps)} workloads", WIDTH)
    per_port: dict[tuple[int, str], dict[tuple[str, str], PortFlow]] = {}
    for c in all_cells:
        per_port.setdefault((c.port.port, c.port.protocol), {})[(c.src.key, c.dst.key)] = c.port
    label_w = max((len(e.key) for e in eps), default=0) + 5
    small = len(eps) <= GRID_MAX_PODS and label_w + 3 * len(eps) <= WIDTH
    parts = [first, rest]
    if per_port:
        parts.append(textwrap.fill(WORKLOAD_LEGEND, WIDTH))
    for (port, proto), by in sorted(per_port.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        head = f"{port}/{proto}"
        parts.append(
            _workload_grid(eps, by, head, colour) if small else _workload_list(eps, by, head)
        )
    if not per_port:
        parts.append("no pod serves any known port: nothing to check")
    return "\n\n".join(parts)
