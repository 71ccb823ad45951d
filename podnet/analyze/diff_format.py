"""Render a :class:`~podnet.analyze.diff.Diff` for people (text, wide) and machines (JSON).

Text is kubectl-like tables under headings; ``wide`` adds the new and the old verdict's
reasons under each connection. Cluster policies added, removed or changed are listed
with the connections their rules close or open. Lines that would pass 80 columns are
wrapped, never cut.
"""

from __future__ import annotations

import textwrap
from typing import Any

from podnet.analyze.diff import Diff
from podnet.text import table

_GREEN, _RED, _RESET = "\033[32m", "\033[31m", "\033[0m"


def _mark(opened: bool, colour: bool) -> str:
    word = "+opened" if opened else "-closed"
    if colour:
        return f"{_GREEN if opened else _RED}{word}{_RESET}"
    return word


def format_text(d: Diff, wide: bool = False, colour: bool = False) -> str:
    if not d.changed:
        return "no changes: the same connections, endpoints, pods, Services and cluster policies"
    out: list[str] = []
    if d.connections:
        out.append(f"Connections: {len(d.opened)} opened, {len(d.closed)} closed")
        rows = [[c.src, c.dst, f"{c.port}/{c.protocol}"] for c in d.connections]
        lines = table(rows, ["SOURCE", "DESTINATION", "PORT"]).split("\n")
        out.append("  " + "CHANGE    " + lines[0])
        for c, line in zip(d.connections, lines[1:], strict=True):
            out.append(f"  {_mark(c.opened, colour)}   {line}")
            if wide:
                for text in (c.reason, f"was: {c.was}" if c.was else ""):
                    out += textwrap.wrap(
                        text,
                        78,
                        initial_indent=" " * 12,
                        subsequent_indent=" " * 14,
                        break_on_hyphens=False,
                    )
        out.append("")
    if d.endpoints:
        out.append("Service endpoints:")
        for e in d.endpoints:
            port = f" port {e.port_name}" if e.port_name else ""
            out.append(f"  {e.service}{port}")
            out += [f"    + {a}" for a in e.added] + [f"    - {r}" for r in e.removed]
        out.append("")
    for title, keys in (
        ("Pods added", d.pods_added),
        ("Pods removed", d.pods_removed),
        ("Services added", d.services_added),
        ("Services removed", d.services_removed),
    ):
        if keys:
            out.append(f"{title}:")
            out += textwrap.wrap(", ".join(keys), 78, initial_indent="  ", subsequent_indent="  ")
    for title, keys in (
        ("Cluster policies added", d.cluster_policies_added),
        ("Cluster policies removed", d.cluster_policies_removed),
        ("Cluster policies changed", d.cluster_policies_changed),
    ):
        if keys:
            out.append(f"{title}:")
            for key in keys:
                out += textwrap.wrap(
                    f"{key}{_effect(d, key)}", 78, initial_indent="  ", subsequent_indent="    "
                )
    return "\n".join(out).rstrip()


def _effect(d: Diff, policy: str) -> str:
    """`` (closes 3 connections, opens 1)``: the listed changes its rules decide."""
    closed, opened = d.closes_and_opens(policy)
    parts = [
        f"{w} {n} connection{'s' if n != 1 else ''}"
        for w, n in (("closes", closed), ("opens", opened))
        if n
    ]
    return f" ({', '.join(parts)})" if parts else ""


def to_dict(d: Diff) -> dict[str, Any]:
    """The body of ``diff -o json`` (docs/output-contract.md: a connection's ends are from/to)."""
    conn = [
        {
            "from": c.src,
            "to": c.dst,
            "port": c.port,
            "protocol": c.protocol,
            "reason": c.reason,
            "was": c.was,
            "denied_by": c.denied_by,
        }
        for c in d.connections
    ]
    return {
        "changed": d.changed,
        "opened": [c for c, x in zip(conn, d.connections, strict=True) if x.opened],
        "closed": [c for c, x in zip(conn, d.connections, strict=True) if not x.opened],
        "endpoints": [
            {
                "service": e.service,
                "port_name": e.port_name,
                "added": list(e.added),
                "removed": list(e.removed),
            }
            for e in d.endpoints
        ],
        "pods_added": list(d.pods_added),
        "pods_removed": list(d.pods_removed),
        "services_added": list(d.services_added),
        "services_removed": list(d.services_removed),
        "cluster_policies": {
            "added": list(d.cluster_policies_added),
            "removed": list(d.cluster_policies_removed),
            "changed": list(d.cluster_policies_changed),
        },
    }
