"""A single-threaded event loop: readable fds and timers, driven by ``step()``.

Why not threads: the live cluster's podnet process has called
``unshare(CLONE_NEWPID)`` (:mod:`podnet.dataplane.sandbox`), after which the kernel
refuses to create threads in it (``clone(CLONE_THREAD)`` is EINVAL while the caller's
``pid_ns_for_children`` differs from its own PID namespace: kernel/fork.c
``copy_process``). So the runtime watches process exits through pidfds
(``pidfd_open(2)``, Linux 5.3) and output through non-blocking pipes, all in one
selector, and whoever owns the process (the orchestrator, a test) drives it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Callback = Callable[[], None]


@dataclass(order=True)
class Timer:
    due: float
    seq: int
    callback: Callback = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Loop:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._sel = selectors.DefaultSelector()
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self.clock = clock

    def call_later(self, delay: float, callback: Callback) -> Timer:
        t = Timer(self.clock() + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, t)
        return t

    def add_reader(self, fd: int, callback: Callback) -> None:
        self._sel.register(fd, selectors.EVENT_READ, callback)

    def remove_reader(self, fd: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(fd)

    def step(self, timeout: float = 0.1) -> None:
        """Wait up to ``timeout`` for events, then run every ready callback and timer."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        wait = timeout
        if self._timers:
            wait = max(0.0, min(wait, self._timers[0].due - self.clock()))
        if self._sel.get_map():
            events = self._sel.select(wait)
            for key, _ in events:
                key.data()
        elif wait > 0:
            time.sleep(wait)
        now = self.clock()
        while self._timers and self._timers[0].due <= now:
            t = heapq.heappop(self._timers)
            if not t.cancelled:
                t.callback()

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Step until ``done()`` or ``timeout`` seconds; whether ``done()`` became true."""
        deadline = self.clock() + timeout
        while not done():
            left = deadline - self.clock()
            if left <= 0:
                return False
            self.step(min(left, 0.1))
        return True

    def close(self) -> None:
        self._sel.close()


def pidfd(pid: int) -> int | None:
    """A pidfd for ``pid`` (readable when it exits), or ``None`` on old kernels."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
