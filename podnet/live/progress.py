"""A one-line progress bar on a terminal, nothing otherwise (``podnet run``, ``probe``).

Hand-made rather than ``rich.progress``: importing rich.progress alone costs tens of
milliseconds of start-up, and the bar has to share its terminal with pod output written
from another thread, which :meth:`ProgressBar.above` handles in a few lines: clear the
bar, write, draw it again. Off the terminal (a pipe, a file, ``TERM=dumb``) every call
is a no-op, so logs and tests see no control characters.

Use::

    bar = ProgressBar(sys.stderr)          # enabled only on a terminal
    bar.start("pods started", total=200)
    bar.update(57)                         # or bar.advance()
    with bar.above():                      # any other write to the same terminal
        print("a line")
    bar.close()                            # clears the line
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

_CLEAR = "\r\x1b[K"  # carriage return, erase to end of line (ECMA-48 EL)
MIN_REDRAW = 0.1  # seconds between redraws: a terminal is slow next to a busy loop


def terminal(stream: TextIO) -> bool:
    """Whether a bar may be drawn on ``stream``: a terminal that understands erase-line."""
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def render(label: str, done: int, total: int | None, elapsed: float, width: int = 24) -> str:
    """``label [#####-----] 57/200 3.2s``, or without a total ``label 57 3.2s`` (pure;
    the count left out while it is 0)."""
    if total is None or total <= 0:
        return f"{label} {done} {elapsed:.1f}s" if done else f"{label} {elapsed:.1f}s"
    filled = min(width, done * width // total)
    return f"{label} [{'#' * filled}{'-' * (width - filled)}] {done}/{total} {elapsed:.1f}s"


class ProgressBar:
    """One line at the bottom of ``stream``; thread-safe. ``enabled`` defaults to
    :func:`terminal`; ``clock`` is for tests."""

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.enabled = terminal(stream) if enabled is None else enabled
        self.clock = clock
        self._lock = threading.RLock()
        self._label = ""
        self._done = 0
        self._total: int | None = None
        self._t0 = clock()
        self._drawn_at = -MIN_REDRAW
        self._visible = False

    def start(self, label: str, total: int | None = None) -> None:
        """A new phase: ``label`` with ``total`` steps (None: a count without a bar)."""
        with self._lock:
            self._label, self._done, self._total, self._t0 = label, 0, total, self.clock()
            self._draw(force=True)

    def update(self, done: int, total: int | None = None) -> None:
        with self._lock:
            self._done = done
            if total is not None:
                self._total = total
            self._draw(force=self._total is not None and done >= self._total)

    def advance(self, steps: int = 1) -> None:
        with self._lock:
            self.update(self._done + steps)

    @contextlib.contextmanager
    def above(self) -> Iterator[None]:
        """Write something else to the terminal: the bar is cleared meanwhile, then
        drawn again below what was written (at most every :data:`MIN_REDRAW` s: under a
        flood of lines it waits for the next :meth:`update` or :meth:`refresh`)."""
        with self._lock:
            self._clear()
            try:
                yield
            finally:
                self._draw()

    def refresh(self) -> None:
        """Draw the bar again if it was cleared (its clock moves on)."""
        with self._lock:
            self._draw()

    def close(self) -> None:
        """Clear the bar for good (until the next :meth:`start`)."""
        with self._lock:
            self._clear()
            self._label = ""

    def _draw(self, *, force: bool = False) -> None:
        if not self.enabled or not self._label:
            return
        now = self.clock()
        if not force and now - self._drawn_at < MIN_REDRAW:
            return
        self._drawn_at = now
        line = render(self._label, self._done, self._total, now - self._t0)
        self._write(_CLEAR + line[: self._columns() - 1])  # a wrapped line cannot be cleared
        self._visible = True

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
        return columns if columns > 1 else 80  # a pty nobody sized says 0

    def _clear(self) -> None:
        if self._visible:
            self._write(_CLEAR)
            self._visible = False

    def _write(self, text: str) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            self.stream.write(text)
            self.stream.flush()
