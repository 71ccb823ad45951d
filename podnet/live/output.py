"""Where ``podnet run`` writes: pod output lines on one stream, progress on another.

Which lines are shown and in which colour is :class:`~podnet.live.runout.logs.Folding`'s
decision; a progress bar on the same terminal is cleared around every line written.

Pod output arrives from the runtime's driver thread, so a failed write must not raise
there (it would kill the thread and stall the run). A closed reader
(``podnet run ... | head``) is what ``kubectl logs -f | head`` meets too: the run
then ends quietly with exit code 0, and the rest of podnet's output is discarded
(the Python documentation's advice for SIGPIPE: point stdout at /dev/null so the
interpreter's final flush does not complain).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from podnet.live.progress import ProgressBar
from podnet.live.runout.logs import Folding, paint, pod_key


class OutputClosed(Exception):
    """The reader of the pod output went away (EPIPE)."""


class PodOutput:
    """Prefixed pod output lines, thread-safe; muted while a shell owns the terminal.

    ``folding`` (set once the cluster is known) decides which lines show; ``colour``
    paints each pod's prefix; ``bar`` is cleared around each line."""

    def __init__(
        self,
        out: TextIO,
        *,
        muted: bool = False,
        colour: bool = False,
        bar: ProgressBar | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.muted = muted
        self.colour = colour
        self.bar = bar
        self.clock = clock
        self.folding: Folding | None = None
        self.closed = False
        self._lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self._lock:
            if self.folding is not None and not self.folding.admit(prefix, self.clock()):
                return
            if self.muted or self.closed:
                return
            tag = f"[{prefix}]"
            if self.colour and self.folding is not None:
                tag = paint(prefix, self.folding.colour_of(pod_key(prefix)))
            try:
                if self.bar is not None:
                    with self.bar.above():
                        self._write(f"{tag} {text}\n")
                else:
                    self._write(f"{tag} {text}\n")
            except (BrokenPipeError, ValueError):  # EPIPE, or the stream was closed
                self.closed = True
                _silence(self.out)

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def _silence(stream: TextIO) -> None:
    """Send the rest of ``stream``'s output (if it is a real stdout) to /dev/null."""
    if stream is not sys.stdout:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class Progress:
    """``podnet: ...`` lines on stderr (and plain lines: :meth:`lines`), above the bar."""

    def __init__(self, err: TextIO, bar: ProgressBar | None = None, *, muted: bool = False) -> None:
        self.err = err
        self.bar = bar
        self.muted = muted  # --quiet

    def __call__(self, msg: str) -> None:
        self.lines([f"podnet: {msg}"])

    def lines(self, lines: list[str]) -> None:
        if self.muted:
            return
        with contextlib.suppress(BrokenPipeError, ValueError):
            if self.bar is not None:
                with self.bar.above():
                    self._write(lines)
            else:
                self._write(lines)

    def _write(self, lines: list[str]) -> None:
        self.err.write("".join(f"{ln}\n" for ln in lines))
        self.err.flush()
