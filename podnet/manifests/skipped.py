"""Documents of kinds podnet does not model: told once per kind, with a count.

A chart brings dozens of ConfigMaps, Secrets and CRDs; one line each would bury the
warnings that matter. A kind with no schema (``kind: Deploymnet``) may be a typo of a
kind podnet does model, which would silently drop workloads: the closest modelled kind
is suggested as cobra's "did you mean" does for kubectl's commands (case-insensitive
Levenshtein distance at most 2: cobra command.go SuggestionsFor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from podnet.manifests.report import DocContext

SUGGESTION_DISTANCE = 2  # cobra's SuggestionsMinimumDistance default


def distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(kind: str, known: Iterable[str]) -> str | None:
    """The known kind closest to ``kind`` (case-insensitive), if it is close enough."""
    scored = sorted((distance(kind.lower(), k.lower()), k) for k in known)
    if scored and scored[0][0] <= SUGGESTION_DISTANCE:
        return scored[0][1]
    return None


@dataclass
class Skipped:
    """The skipped documents of one input, grouped by ``(kind, apiVersion)``."""

    first: dict[tuple[str, str], tuple[DocContext, bool]] = field(default_factory=dict)
    count: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, ctx: DocContext, kind: str, api: str, *, schema_known: bool) -> None:
        """Record one document; ``schema_known``: a Kubernetes kind, so no typo."""
        key = (kind, api)
        self.first.setdefault(key, (ctx, schema_known))
        self.count[key] = self.count.get(key, 0) + 1

    def warnings(
        self, known: Iterable[str], served: Callable[[str, str], bool] | None = None
    ) -> list[str]:
        """One warning per kind, at its first document; a typo gets a suggestion.
        ``served(kind, apiVersion)``: kinds the caller does not skip (``podnet run``
        creates every kind its API serves: ConfigMaps, Secrets, claims), not told."""
        known = tuple(known)
        out = []
        for (kind, api), (ctx, schema_known) in self.first.items():
            if served is not None and served(kind, api):
                continue
            n = self.count[(kind, api)]
            note = "" if schema_known else " (no schema known)"
            text = f"kind {kind} ({api}) is not modelled by podnet{note}; "
            text += "skipped" if n == 1 else f"{n} objects skipped (the first here)"
            close = None if schema_known else suggest(kind, known)
            if close is not None:
                text += f"; did you mean {close}?"
            where = [str(p) for p in (ctx.location, ctx.obj if n == 1 else None) if p]
            out.append(": ".join([*where, text]))
        return out
