"""Container logs: a bounded in-memory ring per container, streamed to a callback, and
optionally kept in files in the CRI log format for ``kubectl logs``.

The ring and the callback serve ``podnet run`` (every line prefixed ``namespace/pod``,
plus ``/container`` when the pod has several, as ``kubectl logs -f --prefix`` prints).
With ``files`` (a directory per container), each run of the container writes
``<restartCount>.log`` there, one ``<RFC3339Nano> stdout F <line>`` per line: the layout
and format kubelet and the CRI runtimes use (``/var/log/pods/<ns>_<pod>_<uid>/<container>/
<restartCount>.log``, pkg/kubelet/kuberuntime/logs/logs.go parses it), so the current
and the previous run can be read, tailed and filtered by time (:mod:`podnet.live.kubelet_logs`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

LogSink = Callable[[str, str], None]  # (prefix, line without newline)
DEFAULT_LINES = 2000
KEEP_RUNS = 2  # the current run's file and the previous one (kubectl logs --previous)


def rfc3339nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


class LogBuffer:
    """The last ``maxlen`` lines of one container, across restarts; with ``files``,
    every line also in the file of the container's current run."""

    def __init__(
        self,
        prefix: str,
        sink: LogSink | None,
        maxlen: int = DEFAULT_LINES,
        files: Path | None = None,
    ) -> None:
        self.prefix = prefix
        self._sink = sink
        self._lines: deque[str] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.files = files
        self._file: IO[bytes] | None = None

    def new_instance(self, restart_count: int) -> None:
        """A new run of the container starts: its lines go to ``<restart_count>.log``;
        files of runs before the previous one are removed (kubelet keeps those two)."""
        if self.files is None:
            return
        with self._lock:
            if self._file is not None:
                self._file.close()
            self.files.mkdir(parents=True, exist_ok=True)
            self._file = open(self.files / f"{restart_count}.log", "ab")  # noqa: SIM115
            for old in self.files.glob("*.log"):
                if old.stem.isdigit() and int(old.stem) <= restart_count - KEEP_RUNS:
                    old.unlink(missing_ok=True)

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            if self._file is not None:
                stamp = rfc3339nano(time.time_ns())
                self._file.write(f"{stamp} stdout F {line}\n".encode(errors="replace"))
                self._file.flush()
        if self._sink is not None:
            try:
                self._sink(self.prefix, line)
            except Exception:  # a broken display must not stop log capture
                self._sink = None

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
