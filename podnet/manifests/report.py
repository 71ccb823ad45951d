"""Collecting errors for one document, each pointing at its line and field.

Checks call ``ctx.error(path, message)``; the context knows the document (for line
lookup), its location and its ``Kind/namespace/name``. All errors of all documents are
gathered and raised together by :func:`raise_all` so the user fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.errors import Location, ManifestError, ManifestErrors
from podnet.manifests.lines import Path, field_line, format_path


@dataclass
class DocContext:
    """One document being checked: where it is, what it is, and the errors found."""

    doc: Any
    location: Location | None
    obj: str | None
    errors: list[ManifestError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def locate(self, path: Path) -> Location | None:
        if self.location is None:
            return None
        line = field_line(self.doc, path)
        return Location(self.location.file, line) if line is not None else self.location

    def error(self, path: Path, message: str) -> None:
        self.errors.append(
            ManifestError(
                message,
                location=self.locate(path),
                obj=self.obj,
                field=format_path(path) or None,
            )
        )

    def warn(self, path: Path, message: str) -> None:
        where = self.locate(path)
        parts = [str(p) for p in (where, self.obj, format_path(path)) if p]
        self.warnings.append(": ".join([*parts, message]))


def raise_all(errors: Sequence[ManifestError]) -> None:
    """Raise nothing, the one error, or one error listing all (the first on top).

    The raised error carries the first error's location, object and field so callers
    that look at attributes see the first problem.
    """
    if not errors:
        return
    first = errors[0]
    if len(errors) == 1:
        raise first
    raise ManifestErrors(errors)
