"""Render lint findings for people (80 columns) and machines (JSON).

The people's form is a block per finding rather than a wide table: message and fix are
sentences, and a table squeezed into 80 columns would cut them. Colour (severity only)
is added by the caller's choice, never by sniffing the terminal here.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

from podnet.analyze.lint.finding import SEVERITIES, Finding, Rule

WIDTH = 80
_INDENT = " " * 9
_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def summary(findings: Sequence[Finding]) -> str:
    counts = Counter(f.severity for f in findings)
    if not findings:
        return "no findings"
    parts = []
    for sev in SEVERITIES:
        n = counts.get(sev, 0)
        if n:
            word = sev if sev == "info" or n == 1 else f"{sev}s"
            parts.append(f"{n} {word}")
    return ", ".join(parts)


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT + "  ",
        break_long_words=True,
        break_on_hyphens=False,
    )


def format_text(findings: Sequence[Finding], colour: bool = False) -> str:
    """One block per finding, every line at most 80 columns, then a summary line."""
    lines: list[str] = []
    for f in findings:
        sev = f.severity.upper().ljust(8)
        if colour:
            sev = f"{_COLOURS[f.severity]}{sev}{_RESET}"
        head = f"{f.rule}  {f.object}"
        if len(head) > WIDTH - 9:
            lines.append(f"{sev} {f.rule}")
            lines.extend(_wrap(f.object))
        else:
            lines.append(f"{sev} {head}")
        if f.location:
            lines.extend(_wrap(f"at: {f.location}"))
        lines.extend(_wrap(f"field: {f.field}"))
        lines.extend(_wrap(f.message))
        lines.extend(_wrap(f"fix: {f.fix}"))
        lines.append("")
    lines.append(summary(findings))
    return "\n".join(lines)


def format_rules(table: Sequence[Rule]) -> str:
    """``podnet lint --rules``: each rule, its severity and what it means, 80 columns."""
    lines: list[str] = []
    for r in table:
        lines.append(f"{r.name}  ({r.severity})")
        lines.extend(_wrap(r.meaning))
    return "\n".join(lines)


def to_json(findings: Sequence[Finding]) -> dict[str, Any]:
    return {"findings": [f.to_dict() for f in findings], "summary": summary(findings)}
