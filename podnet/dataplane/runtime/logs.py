"""Container logs: a bounded in-memory ring per container, streamed to a callback.

kubelet keeps container output in files that ``kubectl logs`` reads; podnet keeps the
last lines in memory (``kubectl logs`` equivalent) and hands every line, prefixed
with ``namespace/pod`` (plus ``/container`` when the pod has several), to whoever
displays them, as ``kubectl logs -f --prefix`` does.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

LogSink = Callable[[str, str], None]  # (prefix, line without newline)
DEFAULT_LINES = 2000


class LogBuffer:
    """The last ``maxlen`` lines of one container, across restarts."""

    def __init__(self, prefix: str, sink: LogSink | None, maxlen: int = DEFAULT_LINES) -> None:
        self.prefix = prefix
        self._sink = sink
        self._lines: deque[str] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
        if self._sink is not None:
            try:
                self._sink(self.prefix, line)
            except Exception:  # a broken display must not stop log capture
                self._sink = None

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)
