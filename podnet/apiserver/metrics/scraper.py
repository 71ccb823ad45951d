"""The scrape loop: every ``resolution`` seconds a point for every running container
(metrics-server's ``--metric-resolution``, 15 s by default; 10 s here, k3s's
metrics-server manifest's value), and within about a second a first point for a
container not seen before, so ``kubectl top`` answers a few seconds after a pod starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podnet.apiserver.metrics import proc
from podnet.apiserver.metrics.storage import Point, Sample, Storage

log = logging.getLogger(__name__)
RESOLUTION = 10.0
CHECK_NEW = 1.0


@dataclass(frozen=True)
class Running:
    """A running container: the pid of the OCI runtime's ``run`` process, whose
    descendants are the container (the runtime itself is not counted)."""

    namespace: str
    pod: str
    container: str
    pid: int


Source = Callable[[], Sequence[Running]]


def sample(running: Sequence[Running], now: float) -> list[Sample]:
    """One point per container whose process is still there: each container's process
    tree read alone (:func:`proc.subtree`), or from one read of every process where the
    kernel lists no children."""
    whole = None if proc.CHILDREN_FILES else proc.snapshot()
    whole_kids = None if whole is None else proc.children(whole)
    boot = proc.boot_time()
    out: list[Sample] = []
    for r in running:
        table = whole if whole is not None else proc.subtree(r.pid)
        kids = whole_kids if whole_kids is not None else proc.children(table)
        inits = kids.get(r.pid, [])
        if r.pid not in table or not inits:
            continue
        cpu = mem = 0
        for pid in inits:
            used = proc.tree_usage(table, kids, pid)
            if used is not None:
                cpu, mem = cpu + used[0], mem + used[1]
        start = boot + min(table[p].start for p in inits)
        out.append(Sample(r.namespace, r.pod, r.container, Point(now, start, cpu, mem)))
    return out


class Scraper:
    def __init__(self, source: Source, *, resolution: float = RESOLUTION) -> None:
        self.source, self.resolution = source, resolution
        self.storage = Storage()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="metrics-scraper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def scrape_once(self, *, only_new: bool = False) -> int:
        """Sample now; the number of containers sampled."""
        running = list(self.source())
        if only_new:
            known = self.storage.known()
            running = [r for r in running if (r.namespace, r.pod, r.container) not in known]
            if not running:
                return 0
        now = time.time()
        samples = sample(running, now)
        self.storage.store(samples, now, partial=only_new)
        return len(samples)

    def _loop(self) -> None:
        next_full = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_full:
                    self.scrape_once()
                    next_full = time.monotonic() + self.resolution
                else:
                    self.scrape_once(only_new=True)
            except Exception:  # a scrape must never end the loop (metrics-server logs too)
                log.exception("metrics scrape failed")
            self._stop.wait(CHECK_NEW)
