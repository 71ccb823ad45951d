"""Shared informers and rate-limited work queues: client-go's SharedInformer and
workqueue in miniature (k8s.io/client-go/tools/cache/shared_informer.go,
k8s.io/client-go/util/workqueue/{queue,delaying_queue,default_rate_limiters}.go).

An :class:`Informer` lists one resource, then follows its watch from the list's
resourceVersion, keeping a cache (``namespace/name`` -> object) and secondary indexes,
and calls its handlers after each change. A watch that ends (410 Gone, a closed
store) is followed by a fresh list, whose differences reach the handlers as events, as
the Reflector's relist does. Cached objects are shared with the store: never mutate
them (copy first), as listers' objects in client-go.

A :class:`WorkQueue` holds keys: a key queued twice is queued once, a key re-added
while being processed is processed again after ``done`` (never by two workers at
once), and failures are retried with per-key exponential back-off, 5 ms doubling up to
1000 s (``DefaultTypedControllerRateLimiter``'s per-item part).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj | None, Obj | None], None]  # (type, old, new)
IndexFunc = Callable[[Obj], Iterable[str]]


class _Watch(Protocol):
    def get(self, timeout: float | None = None) -> Any: ...

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...


def obj_key(obj: Obj) -> str:
    """``namespace/name`` (``name`` for cluster-scoped objects): cache.MetaNamespaceKeyFunc."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def split_key(key: str) -> tuple[str | None, str]:
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, ns)


class Informer:
    """One resource's cache, indexes and handlers, fed by one thread."""

    def __init__(self, registry: Any, res: Resource, *, poll: float = 5.0) -> None:
        self.registry = registry
        self.res = res
        self._poll = poll
        self._lock = threading.RLock()
        self._cache: dict[str, Obj] = {}
        self._index_funcs: dict[str, IndexFunc] = {}
        # index name -> value -> {key: object}: the objects themselves, so that
        # by_index hands them out without a lookup per key
        self._indexes: dict[str, dict[str, dict[str, Obj]]] = {}
        self._handlers: list[Handler] = []
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: _Watch | None = None

    # -- set-up (before start) --------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        with self._lock:
            self._handlers.append(handler)
            for obj in list(self._cache.values()):  # a late handler sees what exists
                handler("ADDED", None, obj)

    def add_index(self, name: str, func: IndexFunc) -> None:
        with self._lock:
            if name in self._index_funcs:
                return
            self._index_funcs[name] = func
            idx: dict[str, dict[str, Obj]] = {}
            for key, obj in self._cache.items():
                for value in func(obj):
                    idx.setdefault(value, {})[key] = obj
            self._indexes[name] = idx

    # -- reads --------------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._cache.get(key)

    def objects(self) -> list[Obj]:
        with self._lock:
            return list(self._cache.values())

    def cache_keys(self) -> list[str]:
        with self._lock:
            return list(self._cache)

    def by_index(self, name: str, value: str) -> list[Obj]:
        with self._lock:
            found = self._indexes[name].get(value)
            return list(found.values()) if found else []

    def index_keys(self, name: str, value: str) -> list[str]:
        with self._lock:
            return list(self._indexes[name].get(value, ()))

    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    # -- the feeding thread -----------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"informer-{self.res.plural}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        w = self._watch
        if w is not None:
            w.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.005
        while not self._stop.is_set():
            try:
                rv = self._relist()
                self._synced.set()
                backoff = 0.005
                self._follow(rv)
            except Exception:  # a failed list or watch: retry with back-off, as Reflector
                if self._stop.is_set():
                    return
                log.exception("informer %s: list/watch failed", self.res.plural)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _relist(self) -> str:
        result = self.registry.list(self.res, None)
        fresh = {obj_key(o): o for o in result.items}
        with self._lock:
            old = self._cache
            for key in [k for k in old if k not in fresh]:
                self._apply("DELETED", key, old[key])
            for key, obj in fresh.items():
                prev = self._cache.get(key)
                if prev is None:
                    self._apply("ADDED", key, obj)
                elif _rv(prev) != _rv(obj):
                    self._apply("MODIFIED", key, obj)
        return str(result.resource_version)

    def _follow(self, rv: str) -> None:
        w: _Watch = self.registry.watch(self.res, None, resource_version=rv)
        self._watch = w
        if self._stop.is_set():  # stop() ran while this watch was being opened
            w.close()
        poll = getattr(w, "poll", None)
        try:
            while not self._stop.is_set():
                first = w.get(self._poll)
                if first is None:
                    if w.closed:
                        return  # ended (e.g. too old): relist
                    continue
                # Everything else already queued too, applied one by one in order: one
                # wake-up of this thread per burst of writes instead of one per event.
                for ev in [first, *poll()] if poll is not None else [first]:
                    if ev.type in ("ADDED", "MODIFIED", "DELETED"):
                        with self._lock:
                            self._apply(ev.type, obj_key(ev.object), ev.object)
                    elif ev.type == "ERROR":
                        return
        finally:
            w.close()
            self._watch = None

    def _apply(self, type_: str, key: str, obj: Obj) -> None:
        """Update cache and indexes, then tell the handlers (lock held: handlers must
        only record work, e.g. queue keys)."""
        old = self._cache.get(key)
        if type_ == "DELETED":
            if old is None:
                return
            del self._cache[key]
            self._unindex(key, old)
            new: Obj | None = None
        else:
            self._cache[key] = obj
            if old is not None:
                self._unindex(key, old)
            for name, func in self._index_funcs.items():
                idx = self._indexes[name]
                for value in func(obj):
                    idx.setdefault(value, {})[key] = obj
            new = obj
            type_ = "ADDED" if old is None else "MODIFIED"
        for handler in self._handlers:
            try:
                handler(type_, old, new if new is not None else obj)
            except Exception:
                log.exception("informer %s: handler failed", self.res.plural)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._index_funcs.items():
            idx = self._indexes[name]
            for value in func(obj):
                objs = idx.get(value)
                if objs is not None:
                    objs.pop(key, None)
                    if not objs:
                        del idx[value]


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class Informers:
    """One informer per resource, shared by every controller (SharedInformerFactory)."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._by_res: dict[Resource, Informer] = {}
        self._lock = threading.Lock()

    def get(self, res: Resource) -> Informer:
        with self._lock:
            inf = self._by_res.get(res)
            if inf is None:
                inf = self._by_res[res] = Informer(self.registry, res)
            return inf

    def start(self) -> None:
        for inf in list(self._by_res.values()):
            inf.start()

    def wait_synced(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(
            inf.wait_synced(max(0.0, deadline - time.monotonic()))
            for inf in list(self._by_res.values())
        )

    def stop(self, timeout: float = 2.0) -> None:
        for inf in list(self._by_res.values()):
            inf.stop(timeout)


class WorkQueue:
    """Deduplicating, delaying, per-key rate-limited queue of keys."""

    def __init__(
        self,
        *,
        base_delay: float = 0.005,
        max_delay: float = 1000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}  # key -> when its waiting entry is due
        self._seq = 0
        self._failures: dict[str, int] = {}
        self._base, self._max = base_delay, max_delay
        self._clock = clock
        self._shutdown = False

    def add(self, key: str) -> None:
        with self._cond:
            self._add(key)

    def _add(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown or key in self._dirty:
                return  # already queued: it will be processed sooner than that
            due = self._clock() + delay
            current = self._due.get(key)
            if current is not None and current <= due:
                return  # already waiting, for no longer (delaying_queue.go keeps the earlier)
            self._due[key] = due
            self._seq += 1
            heapq.heappush(self._waiting, (due, self._seq, key))
            self._cond.notify()

    def add_rate_limited(self, key: str) -> float:
        """Requeue after this key's next back-off; returns the delay chosen."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        delay = min(self._base * (2.0 ** min(n, 40)), self._max)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def get(self, timeout: float | None = None) -> str | None:
        """The next key (now being processed: call :meth:`done`), or None on timeout
        or shutdown."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                now = self._clock()
                while self._waiting and self._waiting[0][0] <= now:
                    due, _, key = heapq.heappop(self._waiting)
                    if self._due.get(key) == due:  # else a stale entry an earlier one replaced
                        del self._due[key]
                        self._add(key)
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                if self._shutdown:
                    return None
                wait = None if deadline is None else deadline - now
                if self._waiting:
                    due = self._waiting[0][0] - now
                    wait = due if wait is None else min(wait, due)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shut_down(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)


class Expectations:
    """Creates and deletes a controller made and has not yet seen in its informer
    (pkg/controller/controller_utils.go ControllerExpectations /
    UIDTrackingControllerExpectations): a sync waits for them, so the cache lagging
    behind its own writes never makes it create or delete twice. Expired after 5 min.
    """

    TIMEOUT = 300.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._adds: dict[str, int] = {}
        self._dels: dict[str, set[str]] = {}
        self._since: dict[str, float] = {}
        self._clock = clock

    def expect(self, key: str, adds: int = 0, deletes: Iterable[str] = ()) -> None:
        with self._lock:
            self._adds[key] = self._adds.get(key, 0) + adds
            self._dels.setdefault(key, set()).update(deletes)
            self._since[key] = self._clock()

    def observed_add(self, key: str) -> None:
        with self._lock:
            if key in self._adds:
                self._adds[key] -= 1

    def observed_delete(self, key: str, dependent: str) -> None:
        with self._lock:
            dels = self._dels.get(key)
            if dels is not None:
                dels.discard(dependent)

    def satisfied(self, key: str) -> bool:
        with self._lock:
            if key not in self._since:
                return True
            if self._adds.get(key, 0) <= 0 and not self._dels.get(key):
                return True
            return self._clock() - self._since[key] > self.TIMEOUT

    def forget(self, key: str) -> None:
        with self._lock:
            self._adds.pop(key, None)
            self._dels.pop(key, None)
            self._since.pop(key, None)
