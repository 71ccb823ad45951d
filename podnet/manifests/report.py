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

# Errors listed in full; the rest are counted. A List of 800,000 bad items gave 62 MB of
# messages; the first twenty are what a user fixes first (kubectl stops at the first).
MAX_REPORTED_ERRORS = 20
# Past this many errors the remaining documents are not checked at all (only counted):
# a file of 800,000 bad items must not cost minutes to say it is bad.
MAX_CHECKED_ERRORS = 1000


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


def raise_all(errors: Sequence[ManifestError], unchecked: int = 0) -> None:
    """Raise nothing, the one error, or one error listing all (the first on top).

    The raised error carries the first error's location, object and field so callers
    that look at attributes see the first problem. Past MAX_REPORTED_ERRORS, the rest
    are counted in one last line ("... and N more errors"); ``unchecked`` documents
    (skipped after MAX_CHECKED_ERRORS) are counted there too.
    """
    if not errors:
        return
    first = errors[0]
    if len(errors) == 1:
        raise first
    if len(errors) > MAX_REPORTED_ERRORS or unchecked:
        raise TruncatedErrors(errors[:MAX_REPORTED_ERRORS], len(errors), unchecked)
    raise ManifestErrors(errors)


class TruncatedErrors(ManifestErrors):
    """The first MAX_REPORTED_ERRORS errors (in ``errors``) and how many there were."""

    def __init__(self, shown: Sequence[ManifestError], total: int, unchecked: int = 0) -> None:
        super().__init__(shown)
        self.total = total
        self.unchecked = unchecked
        listed = "\n".join(f"  {e}" for e in shown[1:])
        self.message = (
            f"{shown[0].message}\n({total - 1:,} more error(s), the first "
            f"{len(shown) - 1} listed):\n{listed}\n  ... and {total - len(shown):,} more "
            f"not shown (podnet lists {MAX_REPORTED_ERRORS}: MAX_REPORTED_ERRORS)"
        )
        if unchecked:
            self.message += (
                f"\n  ... and {unchecked:,} more document(s) not checked after "
                f"{total:,} errors (MAX_CHECKED_ERRORS)"
            )
        self.args = (str(self),)
