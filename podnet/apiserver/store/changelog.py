"""The change log and its watchers, shared by every store backend.

What kube-apiserver's watch cache does over etcd (``k8s.io/apiserver/pkg/storage/
cacher/watch_cache.go``, ``cacher.go``): a bounded ring of the latest events, from which
a watch replays everything after its resourceVersion before following new writes, and
"too old resource version" (410 Gone) when the ring no longer reaches back that far.
A watcher that does not keep up is ended rather than allowed to hold memory without
bound (``cacher.go`` closes a watcher whose buffer stays full: "Forcing ... watcher
close due to unresponsiveness"; here the bound is a queue length, not a timeout).

Locking: the store calls :meth:`ChangeLog.append` and :meth:`ChangeLog.watch` under its
index lock (held by each write while it changes the index), so every watcher sees
events in resourceVersion order and no write falls between a watch's replay and its
follow. Each watcher has its own condition for its consumer; ``on_ready`` callbacks
are returned to the store to call once its locks are released, so a callback can
never deadlock a writer.

Fan-out order: the API's watch streams (consumers with ``on_ready``, an event loop)
are told first, then the blocking consumers (the controllers' and kubelet's
informers) are woken. A write's event then reaches the event loop before the threads
that react to it (and compete with the loop for the GIL) are made runnable.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable

from podnet.apiserver.store.base import Event, StoreError, TooOld

log = logging.getLogger(__name__)

DEFAULT_MAX_EVENTS = 10_000
DEFAULT_MAX_QUEUE = 100_000

Callback = Callable[[], None]


class QueueWatch:
    """One watcher: an unbounded-looking queue that the log closes past ``max_queue``."""

    def __init__(self, prefix: str, since_rv: int, max_queue: int) -> None:
        self.prefix = prefix
        self.max_queue = max_queue
        self.error: StoreError | None = None
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Event] = deque()
        self._closed = False
        self._on_ready: Callback | None = None
        # rv of the last event queued: events at or below it are not queued again
        # (a watch from ahead of the current rv), and the slow-watcher error names it
        self.last_rv = since_rv
        # consumers blocked in get(): only they need a wake-up (see ChangeLog._push)
        self.waiting = 0

    @property
    def on_ready(self) -> Callback | None:
        return self._on_ready

    @on_ready.setter
    def on_ready(self, callback: Callback | None) -> None:
        """Set by the consumer after :meth:`Store.watch` returns; the replayed events are
        already queued by then, so a callback set onto a non-empty queue (or a closed
        watch) is called once at once: no wake-up is lost in between."""
        self._on_ready = callback
        with self._cond:
            pending = bool(self._queue) or self._closed
        if callback is not None and pending:
            _call(callback)

    @property
    def closed(self) -> bool:
        return self._closed

    def poll(self) -> list[Event]:
        with self._cond:
            events = list(self._queue)
            self._queue.clear()
        return events

    def get(self, timeout: float | None = None) -> Event | None:
        with self._cond:
            if not self._queue and not self._closed:
                self.waiting += 1
                try:
                    self._cond.wait_for(lambda: bool(self._queue) or self._closed, timeout)
                finally:
                    self.waiting -= 1
            if self._queue:
                return self._queue.popleft()
            return None

    def close(self) -> None:
        """From any thread; wakes a blocked :meth:`get`. The log drops closed watchers
        at its next write."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

    # --- called by ChangeLog under the store's lock -------------------------------------

    def _push(self, events: Iterable[Event], *, notify: bool = True) -> bool:
        """Queue events; False (and the watch ended with TooOld) once over the bound.
        ``notify`` False leaves waking a blocked :meth:`get` to :meth:`_notify`."""
        with self._cond:
            if self._closed:
                return False
            for ev in events:
                if ev.rv <= self.last_rv:
                    continue
                if len(self._queue) >= self.max_queue:
                    self.error = TooOld(self.last_rv, ev.rv)
                    self._closed = True
                    self._queue.clear()
                    self._cond.notify_all()
                    return False
                self._queue.append(ev)
                self.last_rv = ev.rv
            if notify:
                self._cond.notify_all()
            return True

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()


class ChangeLog:
    """The latest ``max_events`` events (contiguous resourceVersions) and the watchers.

    ``compacted_rv`` is the oldest resourceVersion a watch may start from: the log holds
    every event with rv in ``(compacted_rv, current]``. A fresh store starts it at its
    current rv (0 for an empty store; the loaded rv after a restart, as etcd's history is
    gone for an apiserver that restarts: a watch from before gets 410).
    """

    def __init__(
        self,
        start_rv: int,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        self.compacted_rv = start_rv
        self.max_queue = max_queue
        self._events: deque[Event] = deque(maxlen=max_events)
        # Watchers by prefix: a key "group/plural/ns/name" is matched by looking up its
        # prefixes that end at a "/" (three), not by testing every watcher (one per
        # informer: some fifty); other prefixes ("" and the like) are tested each.
        self._by_prefix: dict[str, list[QueueWatch]] = {}
        self._other: list[QueueWatch] = []
        self._added = 0  # watchers added since closed ones were last swept

    def append(self, event: Event) -> list[Callback]:
        """Log one committed write and queue it to every open watcher under its prefix;
        returns the ``on_ready`` callbacks to call once the store's lock is released."""
        if len(self._events) == self._events.maxlen:
            self.compacted_rv = self._events[0].rv
        self._events.append(event)
        ready: list[Callback] = []
        blocked: list[Callback] = []  # woken after every on_ready (see the module doc)
        key = event.key
        by_prefix = self._by_prefix
        end = key.find("/")
        while end >= 0:
            found = by_prefix.get(key[: end + 1])
            if found is not None:
                self._push(event, found, ready, blocked)
                if not found:
                    del by_prefix[key[: end + 1]]
            end = key.find("/", end + 1)
        if self._other:
            self._push(event, self._other, ready, blocked)
        return ready + blocked

    @staticmethod
    def _push(
        event: Event, watchers: list[QueueWatch], ready: list[Callback], blocked: list[Callback]
    ) -> None:
        """Queue ``event`` to ``watchers`` (those whose prefix it has), dropping the
        closed ones from the list."""
        closed = False
        for w in watchers:
            if w.closed:
                closed = True
                continue
            if event.key.startswith(w.prefix):
                w._push((event,), notify=False)
                if w.on_ready is not None:
                    ready.append(w.on_ready)
                # Only a consumer blocked in get() needs waking (a Condition's notify
                # is ~5 us of Python, for each of ~10 informers per pod write). Read
                # after the push: a consumer that found the queue empty counted itself
                # under the watcher's lock, which the push then took; one that comes
                # later finds the event queued and does not wait.
                if w.waiting:
                    blocked.append(w._notify)
        if closed:
            watchers[:] = [w for w in watchers if not w.closed]

    def watch(self, prefix: str, since_rv: int) -> QueueWatch:
        """A watcher with every logged event after ``since_rv`` under ``prefix`` queued.

        ``since_rv`` ahead of the current rv is accepted: its first events are then those
        with a greater rv (kube-apiserver would wait for the store to catch up; here the
        store is the source of truth, so there is nothing to wait for)."""
        # watch_cache.go getAllEventsSinceLocked: "if resourceVersion < oldest-1" gives
        # "too old resource version: %d (%d)" with oldest-1, our compacted_rv.
        if since_rv < self.compacted_rv:
            raise TooOld(since_rv, self.compacted_rv)
        w = QueueWatch(prefix, since_rv, self.max_queue)
        skip = since_rv - self.compacted_rv  # the log's rvs are contiguous from compacted+1
        if skip < len(self._events):
            w._push(
                ev
                for ev in itertools.islice(self._events, max(skip, 0), None)
                if ev.key.startswith(prefix)
            )
        if prefix.endswith("/"):
            self._by_prefix.setdefault(prefix, []).append(w)
        else:
            self._other.append(w)
        self._added += 1
        if self._added >= 64:  # closed watchers of prefixes no write reaches
            self._sweep()
        return w

    def _sweep(self) -> None:
        self._added = 0
        for prefix, watchers in list(self._by_prefix.items()):
            watchers[:] = [w for w in watchers if not w.closed]
            if not watchers:
                del self._by_prefix[prefix]
        self._other = [w for w in self._other if not w.closed]

    def _all(self) -> list[QueueWatch]:
        return [w for ws in self._by_prefix.values() for w in ws] + self._other

    def close(self) -> None:
        for w in self._all():
            w.close()
        self._by_prefix, self._other = {}, []

    @property
    def watchers(self) -> int:
        return sum(1 for w in self._all() if not w.closed)


def call_all(callbacks: list[Callback]) -> None:
    for cb in callbacks:
        _call(cb)


def _call(cb: Callback) -> None:
    # A consumer's bug must not fail the write that has already been committed.
    try:
        cb()
    except Exception:
        log.exception("watch on_ready callback failed")
