"""Where ``podnet run`` writes: pod output lines on one stream, progress on another.

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
from typing import TextIO


class OutputClosed(Exception):
    """The reader of the pod output went away (EPIPE)."""


class PodOutput:
    """Prefixed pod output lines, thread-safe; muted while a shell owns the terminal."""

    def __init__(self, out: TextIO, *, muted: bool = False) -> None:
        self.out = out
        self.muted = muted
        self.closed = False
        self._lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        if self.muted or self.closed:
            return
        with self._lock:
            try:
                self.out.write(f"[{prefix}] {text}\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):  # EPIPE, or the stream was closed
                self.closed = True
                _silence(self.out)


def _silence(stream: TextIO) -> None:
    """Send the rest of ``stream``'s output (if it is a real stdout) to /dev/null."""
    if stream is not sys.stdout:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class Progress:
    """``podnet: ...`` lines on stderr."""

    def __init__(self, err: TextIO) -> None:
        self.err = err

    def __call__(self, msg: str) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.err.write(f"podnet: {msg}\n")
            self.err.flush()
