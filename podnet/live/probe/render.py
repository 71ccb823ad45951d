"""Rendering a probe report: ``-o json`` (the ``analyze`` contract plus two fields) and
side-by-side grids for people.

JSON::

    {"pods": [{"namespace", "name", "ip", "node"}, ...],        # as analyze -o json
     "via": "pod"|"service",
     "connections": [{"from", "to", "port", "protocol",
                      "allowed": <observed>, "predicted": <engine>,
                      "result": "allowed"|"denied"|"unsupported"|"no service",
                      "detail": <prober's why>, "reason": <engine's reason>,
                      "service": "ns/name" (via service only)}, ...],
     "summary": {"probes", "allowed", "denied", "unsupported", "no service",
                 ["error",] "disagreements"},
     ["notes": [...] (--cluster: objects changed during the run)]}

The table: per port/protocol, the observed grid next to the predicted one (rows =
from, columns = to), then every disagreement on its own line with the engine's reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from podnet.analyze.matrix_format import ALLOW, DENY, GRID_MAX_PODS, SELF, pods_json
from podnet.live.probe.result import (
    ALLOWED,
    DENIED,
    ERROR,
    NO_SERVICE,
    UNSUPPORTED,
    Observation,
    ProbeReport,
    counts,
    disagreements,
)

MARK = {ALLOWED: ALLOW, DENIED: DENY, UNSUPPORTED: "?", NO_SERVICE: "-", ERROR: "E"}


def observation_json(o: Observation, via: str) -> dict[str, Any]:
    p = o.planned
    row: dict[str, Any] = {
        "from": p.src,
        "to": p.dst,
        "port": p.port,
        "protocol": p.protocol,
        "allowed": o.allowed,
        "predicted": o.predicted,
        "result": o.result,
        "detail": o.detail,
        "reason": o.reason,
    }
    if via == "service":
        row["service"] = p.service
    return row


def summary(report: ProbeReport) -> dict[str, int]:
    """The counts; ``error`` (``--cluster``: a probe that could not run) only when some did."""
    obs = report.observations
    got = counts(obs)
    if not got[ERROR]:
        del got[ERROR]
    return {"probes": len(obs), **got, "disagreements": len(disagreements(obs))}


def to_json(report: ProbeReport) -> dict[str, Any]:
    return {
        "pods": pods_json(report.pods),
        "via": report.via,
        "connections": [observation_json(o, report.via) for o in report.observations],
        "summary": summary(report),
        **({"notes": list(report.notes)} if report.notes else {}),
    }


def write_json(report: ProbeReport, out: TextIO) -> None:
    json.dump(to_json(report), out, indent=2)
    out.write("\n")


def _grids(report: ProbeReport, port: int, proto: str) -> list[str]:
    cells = {
        (o.planned.src, o.planned.dst): o
        for o in report.observations
        if (o.planned.port, o.planned.protocol) == (port, proto)
    }
    dsts = [p.key for p in report.pods if any(d == p.key for _, d in cells)]
    number = {d: i + 1 for i, d in enumerate(dsts)}
    labels = [f"{p.key} [{number[p.key]}]" if p.key in number else p.key for p in report.pods]
    width = max(len(label) for label in labels)
    cols = "".join(f"{number[d]:>3}" for d in dsts)
    gap = "     "
    grid_w = max(len(cols), len("observed"))
    lines = [
        f"{port}/{proto}  (rows: from, columns: to [n]; ! = disagreement)",
        " " * width + " " + f"{'observed':<{grid_w}}" + gap + "predicted",
        " " * width + " " + cols.ljust(grid_w) + gap + cols,
    ]
    for p, label in zip(report.pods, labels, strict=True):
        seen, want = [], []
        for d in dsts:
            o = cells.get((p.key, d))
            if o is None:
                seen.append(f"  {SELF}")
                want.append(f"  {SELF}")
                continue
            flag = "!" if o.disagrees else " "
            seen.append(f"{flag} {MARK[o.result]}")
            want.append(f"  {ALLOW if o.predicted else DENY}")
        row = "".join(seen).ljust(grid_w)
        lines.append(label.ljust(width) + " " + row + gap + "".join(want))
    return lines


def _line(o: Observation) -> str:
    p = o.planned
    where = f" via {p.service}" if p.service else ""
    return (
        f"{p.src} -> {p.dst} {p.port}/{p.protocol}{where}: predicted "
        f"{'allowed' if o.predicted else 'denied'}, observed {o.result} ({o.detail}); "
        f"engine: {o.reason}"
    )


def format_table(report: ProbeReport) -> str:
    s = summary(report)
    head = (
        f"{len(report.pods)} pods, {s['probes']} probes via {report.via}: "
        f"{s[ALLOWED]} allowed, {s[DENIED]} denied, {s[UNSUPPORTED]} unsupported, "
        f"{s[NO_SERVICE]} no service"
        + (f", {s[ERROR]} failed to run" if s.get(ERROR) else "")
        + f"; {s['disagreements']} disagree with the prediction"
    )
    parts = [head]
    ports = sorted(
        {(o.planned.port, o.planned.protocol) for o in report.observations},
        key=lambda x: (x[1], x[0]),
    )
    if len(report.pods) <= GRID_MAX_PODS:
        parts.extend("\n".join(_grids(report, port, proto)) for port, proto in ports)
    wrong: Sequence[Observation] = disagreements(report.observations)
    if wrong:
        parts.append("disagreements:\n" + "\n".join(_line(o) for o in wrong))
    if report.notes:
        parts.append("changed in the cluster during the run:\n" + "\n".join(report.notes))
    if report.not_ready:
        parts.append("not ready when probing began: " + ", ".join(report.not_ready))
    return "\n\n".join(parts)
