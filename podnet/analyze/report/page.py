"""``podnet report``: one self-contained HTML file describing the cluster's network.

Sections: the cluster drawn (the DOT graph of :mod:`podnet.analyze.report.graph`, laid
out by Graphviz, with a filter for namespace, port and kind of edge), the connectivity matrix
per port with each cell's explanation (:mod:`podnet.analyze.report.data`, rendered by
the inline script in :mod:`podnet.analyze.report.assets`), Services with endpoints,
the cluster admin's policies (:mod:`podnet.analyze.report.cluster`), NetworkPolicies,
and the lint findings. Everything is inline - CSS, script, SVG and
the data as JSON - so the file opens offline and can be mailed around.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from podnet.analyze.lint.finding import Finding
from podnet.analyze.lint.render import summary
from podnet.analyze.report.assets import CSS, JS
from podnet.analyze.report.cluster import cluster_policies_html
from podnet.analyze.report.data import build_report_data
from podnet.analyze.report.layout import layout_svg
from podnet.errors import NotSupportedError
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

LEGEND = {  # kind of drawn thing -> (sample SVG, words); see graph.py for the styles
    "flow": (
        '<line x1="2" y1="7" x2="34" y2="7" stroke="#16a34a" stroke-width="1.6"/>',
        "allowed, for every pod pair (ports: label, or hover)",
    ),
    "some": (
        '<line x1="2" y1="7" x2="34" y2="7" stroke="#d97706" stroke-width="1.6" '
        'stroke-dasharray="5,3"/>',
        "allowed, for some pod pairs only (on at least one port)",
    ),
    "any": (
        '<ellipse cx="18" cy="7" rx="15" ry="6" fill="#dcfce7" stroke="#16a34a"/>',
        "arrow from \u201cany pod\u201d: from every pod drawn",
    ),
    "ns": (
        '<rect x="2" y="1" width="32" height="12" rx="3" fill="#f1f5f9" stroke="#64748b"/>',
        "arrow from a box (namespace, workload): from every pod drawn in it; to a box: to"
        " every pod in it serving the port",
    ),
    "members": (
        '<rect x="4" y="1" width="28" height="12" rx="4" fill="#ffffff" stroke="#64748b" '
        'stroke-dasharray="3,2"/>',
        "another namespace's pods at the ends of these flows, as one (hover: which)",
    ),
    "junction": (
        '<line x1="2" y1="7" x2="18" y2="7" stroke="#16a34a" stroke-width="1.4"/>'
        '<circle cx="20" cy="7" r="3" fill="#16a34a"/>'
        '<line x1="22" y1="7" x2="34" y2="7" stroke="#16a34a" stroke-width="1.4"/>',
        "junction: every line into it continues along every arrow out of it",
    ),
    "route": (
        '<line x1="2" y1="7" x2="34" y2="7" stroke="#6366f1" stroke-width="1.2" '
        'stroke-dasharray="4,3"/>',
        "Service to the pods behind it",
    ),
}


def _json_for_script(data: dict[str, Any]) -> str:
    """JSON safe inside <script>: no ``</`` or ``<!--`` can close or confuse it."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def _rows(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _services(data: dict[str, Any]) -> str:
    rows = []
    for s in data["services"]:
        ports = "<br>".join(
            escape(
                f"{p['port']}/{p['protocol']} → {p['target']}"
                + (f" ({p['name']})" if p["name"] else "")
            )
            for p in s["ports"]
        )
        eps = "<br>".join(escape(e) for p in s["ports"] for e in p["endpoints"][:6])
        n = sum(len(p["endpoints"]) for p in s["ports"])
        more = f"<br><span class=muted>… {n - 6} more</span>" if n > 6 else ""
        rows.append(
            [
                escape(s["name"]),
                escape(s["type"]),
                f"<span class=mono>{escape(str(s['cluster_ip']))}</span>",
                ports,
                (
                    f"<span class=mono>{eps}</span>{more}"
                    if eps
                    else "<span class=muted>none</span>"
                ),
            ]
        )
    return _rows(rows, ["Service", "Type", "Cluster IP", "Ports", "Endpoints"])


def _policies(data: dict[str, Any]) -> str:
    rows = [
        [
            escape(p["name"]),
            escape(p["selector"]),
            escape(", ".join(p["types"])),
            f"{p['ingress_rules']} / {p['egress_rules']}",
            escape(", ".join(p["selects"])) or "<span class=muted>no pod</span>",
        ]
        for p in data["policies"]
    ]
    if not rows:
        return "<p class=muted>No NetworkPolicies: every pod accepts and sends all traffic.</p>"
    return _rows(rows, ["Policy", "Pod selector", "Types", "Rules in / out", "Selects"])


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "<p class=muted>No findings.</p>"
    rows = [
        [
            f"<span class='sev-{f.severity}'>{f.severity}</span>",
            escape(f.rule),
            f"{escape(f.object)}<br><span class='mono muted'>{escape(f.field)}</span>"
            + (f"<br><span class='mono muted'>{escape(f.location)}</span>" if f.location else ""),
            escape(f.message),
            escape(f.fix),
        ]
        for f in findings
    ]
    return _rows(rows, ["Severity", "Rule", "Object / field", "Finding", "Fix"])


def legend_kinds(graph: dict[str, Any]) -> list[str]:
    """The kinds of edge and node the drawing has, in :data:`LEGEND` order."""
    edges = graph["edges"]
    have = {
        "flow": any(e["ports"] and not e["partial"] for e in edges),
        "some": any(e["partial"] for e in edges),
        "any": any(e["tail"] == "*" for e in edges),
        "ns": any(e[end].startswith(("ns:", "wl:")) for e in edges for end in ("tail", "head")),
        "junction": any(e["head"].startswith("j:") for e in edges),
        "members": bool(graph["collapsed"]),
        "route": any(s["routes"] for s in graph["services"]),
    }
    return [k for k in LEGEND if have[k]]


def _drawing(data: dict[str, Any], dot: str, focus_dots: dict[str, str]) -> str:
    """The drawing section's body: filter bar, legend and Graphviz's SVGs.

    The whole cluster's drawing, and for a big one a drawing per namespace (hidden; the
    script shows the one the namespace filter picks). Every legend entry is there, the
    ones the shown drawing lacks hidden by the script (initially: the whole drawing's).
    """
    try:
        svg = layout_svg(dot)
        focus = "".join(
            f'<div class="scroll drawing focus" data-ns="{escape(ns, quote=True)}" hidden>'
            f"{layout_svg(src)}</div>"
            for ns, src in focus_dots.items()
        )
    except NotSupportedError as e:
        return (
            f"<p class=muted>No drawing: {escape(str(e))}. The matrix below has every verdict.</p>"
        )
    hint = (
        " <span class=muted>(many edges: choose a namespace for its own drawing)</span>"
        if focus_dots
        else ""
    )
    shown = legend_kinds(data["graph"])
    legend = "".join(
        f'<span class=lg data-legend="{k}"{"" if k in shown else " hidden"}>'
        f'<svg width="36" height="14">{LEGEND[k][0]}</svg>{escape(LEGEND[k][1])}</span>'
        for k in LEGEND
    )
    return f"""<div class=gbar>
<label>Namespace <select id=f-ns><option value="">all</option></select></label>
<label>Port <select id=f-port><option value="">all</option></select></label>
<label><input type=checkbox id=f-flows checked> allowed flows</label>
<label><input type=checkbox id=f-routes checked> Services</label>
<button id=f-zoom type=button>actual size</button> <span id=f-count class=muted></span>{hint}</div>
<p id=glegend class="legend glegend">{legend}</p>
<div id=graph class="scroll drawing">{svg}</div>{focus}"""


def _pending(data: dict[str, Any]) -> str:
    if not data["pending"]:
        return ""
    names = ", ".join(data["pending"][:10]) + (" …" if len(data["pending"]) > 10 else "")
    return f"<p class=muted>Pending (not scheduled, no IP, in no connection): {escape(names)}</p>"


def render_report(
    state: ClusterState,
    findings: Sequence[Finding],
    title: str = "podnet report",
    pods: Sequence[Pod] | None = None,
) -> str:
    """The page over ``pods`` (default: every pod of ``state``, as ``analyze --all``)."""
    data = build_report_data(state, findings, title, pods)
    dot = data.pop("dot")
    focus_dots = data.pop("focus_dots", {})
    c = data["counts"]
    pending = f" + {len(data['pending'])} pending" if data["pending"] else ""
    stats = [
        (len(state.nodes), "nodes"),
        (f"{data['pods']}{pending}", "pods"),
        (len(state.services), "Services"),
        (len(state.policies), "policies"),
        (f"{c['allowed']}/{c['connections']}", "connections allowed"),
        (summary(findings), ""),
    ]
    if state.cluster_policies:
        stats.insert(4, (len(state.cluster_policies), "cluster policies"))
    stat_html = "".join(
        f"<div class=stat><b>{escape(str(n))}</b>{escape(w)}</div>" for n, w in stats
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
<header><h1>{escape(title)}</h1>
<div class=sub>Pod networking computed by podnet from the manifests: addresses, Services,
DNS and policy verdicts (Admin tier, NetworkPolicy, Baseline tier). <span id=rendered></span></div>
<div class=stats>{stat_html}</div></header>
<main>
<section><h2>Cluster</h2>{_drawing(data, dot, focus_dots)}{_pending(data)}</section>
<section><h2>Connectivity by port</h2>
<p class="muted">Rows are sources, columns destinations serving the port (a workload's
pods together); click a cell for the policy explanation.</p>
<p id=legend class=legend></p>
<div id=tabs class=tabs></div>
<div class=mx-wrap><div id=matrix class=scroll></div>
<div id=detail>Click a cell to see why it is allowed or denied.</div></div></section>
<section><h2>Services</h2><div class=scroll>{_services(data)}</div></section>
<section><h2>Cluster policies (Admin and Baseline tiers)</h2>
<div class=scroll>{cluster_policies_html(data)}</div></section>
<section><h2>NetworkPolicies</h2><div class=scroll>{_policies(data)}</div></section>
<section><h2>Lint findings</h2><div class=scroll>{_findings(findings)}</div></section>
</main>
<script type="application/json" id="report-data">{_json_for_script(data)}</script>
<script>{JS}</script>
</body></html>
"""
