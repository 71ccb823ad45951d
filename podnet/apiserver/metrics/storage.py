"""The last two points of each container, and the rates between them.

metrics-server's ``pkg/storage`` (pod.go, types.go): each scrape's point (cumulative
CPU, memory, timestamp, start time) becomes ``last`` and the former ``last`` becomes
``prev``; usage is (last.cpu - prev.cpu) / (last.ts - prev.ts) over the window
last.ts - prev.ts. A container that started after the previous scrape gets a
``prev`` at its start time with zero CPU used (pod.go: "fresh container"), so a new pod
has metrics after its first scrape, not its second; at the very first scrape every
container counts as fresh (podnet started each one, its CPU time is all since then).
A pod is reported only when every container has both points; a negative rate (a
restart between scrapes) drops the pod, as metrics-server drops it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    timestamp: float  # wall clock, seconds
    start: float  # the container's start, wall clock
    cpu_ns: int  # cumulative CPU time
    memory: int  # working set, bytes


@dataclass(frozen=True)
class Sample:
    """One container's point of one scrape."""

    namespace: str
    pod: str
    container: str
    point: Point


@dataclass(frozen=True)
class Usage:
    """A container's usage over the window ending at ``timestamp``."""

    container: str
    nanocores: int
    memory: int


@dataclass(frozen=True)
class PodUsage:
    timestamp: float
    window: float
    containers: tuple[Usage, ...]

    @property
    def nanocores(self) -> int:
        return sum(c.nanocores for c in self.containers)

    @property
    def memory(self) -> int:
        return sum(c.memory for c in self.containers)


PodKey = tuple[str, str]  # namespace, name


class Storage:
    """Thread-safe: the scraper stores, API handlers and the HPA controller read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # pod -> container -> (prev, last)
        self._points: dict[PodKey, dict[str, tuple[Point | None, Point]]] = {}
        self.last_scrape: float | None = None

    def store(self, samples: Iterable[Sample], now: float, *, partial: bool = False) -> None:
        """One scrape's points. ``partial``: only containers seen for the first time
        were sampled (a quick first point for new pods); the others keep theirs."""
        with self._lock:
            prior_scrape = self.last_scrape
            fresh: dict[PodKey, dict[str, tuple[Point | None, Point]]] = (
                {k: dict(v) for k, v in self._points.items()} if partial else {}
            )
            for s in samples:
                key = (s.namespace, s.pod)
                old = self._points.get(key, {}).get(s.container)
                new = s.point
                if old is not None and old[1].start == new.start:
                    if new.timestamp <= old[1].timestamp:
                        fresh.setdefault(key, {})[s.container] = old
                        continue
                    prev: Point | None = old[1]
                elif prior_scrape is None or new.start >= prior_scrape or old is not None:
                    # a fresh container (or a restarted one): its start is the zero point
                    prev = Point(new.start, new.start, 0, 0) if new.start < new.timestamp else None
                else:
                    prev = None
                fresh.setdefault(key, {})[s.container] = (prev, new)
            self._points = fresh
            if not partial:
                self.last_scrape = now

    def known(self) -> set[tuple[str, str, str]]:
        with self._lock:
            return {(ns, pod, c) for (ns, pod), cs in self._points.items() for c in cs}

    def pod(self, namespace: str, name: str) -> PodUsage | None:
        """The pod's usage, None unless each of its sampled (running) containers has
        two points and a rate that is not negative."""
        with self._lock:
            points = self._points.get((namespace, name))
        if not points:
            return None
        containers = sorted(points)
        out: list[Usage] = []
        ts = 0.0
        window = 0.0
        for c in containers:
            prev, last = points[c]
            if prev is None:
                return None
            dt = last.timestamp - prev.timestamp
            used = last.cpu_ns - prev.cpu_ns
            if dt <= 0 or used < 0:
                return None
            out.append(Usage(c, round(used / dt), last.memory))
            ts = max(ts, last.timestamp)
            window = max(window, dt)
        if not out:
            return None
        return PodUsage(ts, window, tuple(out))
