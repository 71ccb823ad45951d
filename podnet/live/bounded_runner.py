"""Run one function from one thread, paced: requests coalesce, runs are spaced, and a
run happens at least every ``max_interval`` even when nobody asks.

kube-proxy's ``BoundedFrequencyRunner`` (kubernetes ``pkg/util/async/
bounded_frequency_runner.go``) with a burst of one: :meth:`run` only asks; however many
requests arrive, the function runs once, no sooner than ``min_interval`` after the
previous run began, and at the latest ``max_interval`` after it, so a change recorded
without a request (a lost wake-up) is still picked up. kube-proxy's ``RetryAfter`` is
not needed here: the caller's function records its own failure, and the periodic run
retries it.

``rest`` adapts the spacing to the cost of a run (kube-proxy gets the same effect from
its 1 s ``minSyncPeriod``, podnet keeps 20 ms for small clusters): after a run that took
``d`` seconds the next begins no sooner than ``rest * d`` after it ended. A sync whose
cost grows with the cluster (every endpoint, DNS record and node table of a thousand
pods) then takes at most ``1 / (1 + rest)`` of a core, and more changes gather into
each run instead of each small change paying for a whole sync.

The clock is injectable and :meth:`step` does one iteration in the caller's thread, so
pacing is tested without sleeping; :meth:`start` drives the same logic from a thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class BoundedFrequencyRunner:
    def __init__(
        self,
        name: str,
        fn: Callable[[], None],
        min_interval: float,
        max_interval: float,
        clock: Callable[[], float] = time.monotonic,
        rest: float = 0.0,
    ) -> None:
        if not 0 <= min_interval <= max_interval or rest < 0:
            raise ValueError(
                "need 0 <= min_interval <= max_interval and rest >= 0,"
                f" got {min_interval}, {max_interval}, {rest}"
            )
        self.name = name
        self.min_interval, self.max_interval = min_interval, max_interval
        self._fn = fn
        self._clock = clock
        self._cond = threading.Condition()
        self._pending = False
        self.rest = rest
        self._last = -math.inf  # when the last run began
        self._rest_until = -math.inf  # last run's end + rest * its duration
        self._since = clock()  # the periodic run counts from here until the first run
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.runs = 0  # times fn was called
        self.errors = 0  # times fn raised (the thread carries on; fn should report it)

    # -- asking -------------------------------------------------------------------------
    def run(self) -> None:
        """Ask for a run (thread-safe, never blocks on the function)."""
        with self._cond:
            self._pending = True
            self._cond.notify()

    def due_in(self) -> float:
        """Seconds until the next run is due (<= 0: now)."""
        with self._cond:
            return self._next_at() - self._clock()

    def _next_at(self) -> float:
        if self._pending:
            return max(self._last + self.min_interval, self._rest_until)
        return max(self._last, self._since) + self.max_interval

    # -- running ------------------------------------------------------------------------
    def step(self) -> bool:
        """Run the function here if a run is due; whether it ran. Exceptions propagate."""
        with self._cond:
            now = self._clock()
            if now < self._next_at():
                return False
            self._pending = False  # requests from now on ask for the run after this one
            self._last = now
            self.runs += 1
        try:
            self._fn()
        finally:
            if self.rest:
                end = self._clock()
                with self._cond:
                    self._rest_until = end + self.rest * (end - now)
        return True

    def start(self) -> None:
        """Drive :meth:`step` from a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                # Waits and checks under one lock: a request cannot slip in unseen.
                while not self._stopping and (wait := self._next_at() - self._clock()) > 0:
                    self._cond.wait(wait)
                if self._stopping:
                    return
            try:
                self.step()
            except Exception:  # fn reports its own failures; keep pacing
                with self._cond:
                    self.errors += 1

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the thread (a run in progress finishes first); whether it has ended.
        Later requests are ignored."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True
