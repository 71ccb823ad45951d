"""Draw the cluster as inline SVG: Services on the left, one column per node.

Each node column holds boxes of pod groups (a workload's pods on that node, bare pods
alone), coloured by namespace, with pod names and IPs; a group selected by
NetworkPolicies carries a badge naming them. A curve joins every Service to each box
holding one of its endpoints. Long groups show their first pods and "+N more", so a
1,000-pod cluster stays a drawing rather than a list. Layout is a pure function of
the report data; the SVG is built from escaped strings, no library.
"""

from __future__ import annotations

import zlib
from html import escape
from typing import Any

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
SVC_X, SVC_W = 16, 250
NODE_X0, NODE_W, NODE_GAP = 340, 300, 28
LINE, HEAD, PAD, MAX_SHOWN = 15, 22, 8, 4


def ns_colour(namespace: str) -> str:
    return PALETTE[zlib.crc32(namespace.encode()) % len(PALETTE)]


def _text(x: float, y: float, s: str, cls: str = "", extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.0f}" y="{y:.0f}"{c}{extra}>{escape(s)}</text>'


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def draw_cluster(data: dict[str, Any]) -> str:
    nodes = [n["name"] for n in data["nodes"]]
    parts: list[str] = []  # drawn above the links
    backs: list[str] = []  # node backgrounds, below the links
    anchors: dict[tuple[str, str], tuple[float, float]] = {}  # (group, node) -> left middle
    bottoms: list[float] = []
    for ni, node in enumerate(data["nodes"]):
        x = NODE_X0 + ni * (NODE_W + NODE_GAP)
        y = 56.0
        inner: list[str] = []
        for g in data["groups"]:
            pods = [p for p in g["pods"] if p["node"] == node["name"]]
            if not pods:
                continue
            shown = pods[:MAX_SHOWN]
            rows = len(shown) + (1 if len(pods) > MAX_SHOWN else 0) + (1 if g["policies"] else 0)
            h = HEAD + rows * LINE + PAD
            col = ns_colour(g["namespace"])
            gid = escape(g["id"], quote=True)
            inner.append(f'<g class="grp" data-group="{gid}">')
            inner.append(
                f'<rect x="{x + 10}" y="{y:.0f}" width="{NODE_W - 20}" height="{h:.0f}" '
                f'rx="6" class="grp-box" style="stroke:{col}"/>'
            )
            inner.append(
                f'<rect x="{x + 10}" y="{y:.0f}" width="{NODE_W - 20}" height="{HEAD}" '
                f'rx="6" style="fill:{col}"/>'
            )
            head = f"{g['namespace']}  {g['label']}"
            inner.append(_text(x + 18, y + 15, _clip(head, 38), "grp-head"))
            ty = y + HEAD + LINE - 2
            for p in shown:
                inner.append(_text(x + 18, ty, _clip(p["name"], 26), "pod"))
                inner.append(
                    _text(x + NODE_W - 18, ty, p["ip"] or "pending", "ip", ' text-anchor="end"')
                )
                ty += LINE
            if len(pods) > MAX_SHOWN:
                inner.append(_text(x + 18, ty, f"+{len(pods) - MAX_SHOWN} more", "more"))
                ty += LINE
            if g["policies"]:
                names = ", ".join(n.split("/", 1)[1] for n in g["policies"])
                inner.append(_text(x + 18, ty, _clip("policy: " + names, 40), "pol"))
            inner.append("</g>")
            anchors[(g["id"], node["name"])] = (x + 10, y + HEAD / 2)
            y += h + 10
        bottom = max(y, 120.0)
        backs.append(
            f'<rect x="{x}" y="16" width="{NODE_W}" height="{bottom - 6:.0f}" '
            'rx="10" class="node-box"/>'
        )
        backs.append(_text(x + 12, 38, node["name"], "node-name"))
        backs.append(
            _text(
                x + NODE_W - 12,
                38,
                f"{node['address']}  {node['pod_cidr']}",
                "node-meta",
                ' text-anchor="end"',
            )
        )
        parts.extend(inner)
        bottoms.append(bottom + 16)
    links: list[str] = []
    sy = 56.0
    parts.append(_text(SVC_X, 38, "Services", "node-name"))
    for s in data["services"]:
        ports = ", ".join(f"{p['port']}→{p['target']}/{p['protocol']}" for p in s["ports"])
        h = HEAD + LINE + PAD
        parts.append(f'<g class="svc" data-service="{escape(s["name"], quote=True)}">')
        parts.append(
            f'<rect x="{SVC_X}" y="{sy:.0f}" width="{SVC_W}" height="{h}" rx="6" class="svc-box"/>'
        )
        parts.append(_text(SVC_X + 8, sy + 15, _clip(s["name"], 34), "svc-name"))
        meta = f"{s['cluster_ip'] or 'no IP'}  {ports}"
        parts.append(_text(SVC_X + 8, sy + HEAD + LINE - 3, _clip(meta, 40), "svc-meta"))
        parts.append("</g>")
        x1, y1 = SVC_X + SVC_W, sy + h / 2
        for gid in s["groups"]:
            for n in nodes:
                if (gid, n) in anchors:
                    x2, y2 = anchors[(gid, n)]
                    mid = (x1 + x2) / 2
                    links.append(
                        f'<path d="M{x1},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} '
                        f'{x2},{y2:.0f}" class="link"/>'
                    )
        sy += h + 10
    width = NODE_X0 + len(nodes) * (NODE_W + NODE_GAP)
    height = max([sy + 10, *bottoms])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" '
        f'width="{width}" height="{height:.0f}" role="img" aria-label="cluster drawing">'
        + "".join(backs)
        + "".join(links)
        + "".join(parts)
        + "</svg>"
    )
