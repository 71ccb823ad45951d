"""Plain-text layout shared by every verb's output."""

from __future__ import annotations

from collections.abc import Sequence


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """kubectl-style table: upper-case headers, columns padded with three spaces."""
    cols = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(headers))]
    lines = []
    for r in cols:
        cells = [str(c).ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)
