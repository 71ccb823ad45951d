"""A single-threaded event loop: readable fds and timers, driven by ``step()``.

Every container's exit (a pidfd, ``pidfd_open(2)``, Linux 5.3) and output (non-blocking
pipes) sit in one selector with the probe and back-off timers, so all runtime callbacks
run on one thread and a container's state needs no locks of its own. The owner drives
it: a test with :meth:`Loop.step`, the live cluster from one thread of its own
(:meth:`Loop.start_background`); callbacks then run with :attr:`Loop.lock` held, and
other threads take that lock for their calls into the runtime (the
:class:`~podnet.dataplane.runtime.pods.Runtime` does).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import selectors
import threading
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
        self._closers: list[Callback] = []
        self.clock = clock
        self.lock = threading.RLock()
        self._driver: threading.Thread | None = None
        self._driving = False

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
        with self.lock:
            while self._timers and self._timers[0].cancelled:
                heapq.heappop(self._timers)
            wait = timeout
            if self._timers:
                wait = max(0.0, min(wait, self._timers[0].due - self.clock()))
            has_fds = bool(self._sel.get_map())
        events = self._sel.select(wait) if has_fds else []  # not under the lock
        if not has_fds and wait > 0:
            time.sleep(wait)
        with self.lock:
            for key, _ in events:
                if self._sel.get_map().get(key.fd) is key:  # not removed meanwhile
                    key.data()
            now = self.clock()
            while self._timers and self._timers[0].due <= now:
                t = heapq.heappop(self._timers)
                if not t.cancelled:
                    t.callback()

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Drive (or, with a background driver, wait) until ``done()`` or ``timeout``."""
        deadline = self.clock() + timeout
        background = self._driver is not None and threading.current_thread() is not self._driver
        while True:
            with self.lock:
                if done():
                    return True
            left = deadline - self.clock()
            if left <= 0:
                return False
            if background:
                time.sleep(min(left, 0.01))
            else:
                self.step(min(left, 0.1))

    def start_background(self) -> None:
        """Drive the loop from a daemon thread (only where threads may be created)."""
        if self._driver is not None:
            return
        self._driving = True

        def drive() -> None:
            while self._driving:
                self.step(0.05)

        self._driver = threading.Thread(target=drive, name="podnet-runtime", daemon=True)
        self._driver.start()

    def stop_background(self) -> None:
        driver, self._driver = self._driver, None
        self._driving = False
        if driver is not None and driver is not threading.current_thread():
            driver.join(timeout=5)

    def on_close(self, callback: Callback) -> None:
        """Run ``callback`` when the loop closes: a reader's pipe that never saw EOF
        (a process whose output was still held open when the runtime stopped) is
        closed then, not left to the garbage collector."""
        with self.lock:
            self._closers.append(callback)

    def cancel_close(self, callback: Callback) -> None:
        """Forget an :meth:`on_close` callback (its pipe closed by itself)."""
        with self.lock, contextlib.suppress(ValueError):
            self._closers.remove(callback)

    def close(self) -> None:
        self.stop_background()
        with self.lock:
            closers, self._closers = self._closers, []
            for callback in closers:
                callback()
        self._sel.close()


def pidfd(pid: int) -> int | None:
    """A pidfd for ``pid`` (readable when it exits), or ``None`` on old kernels."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
