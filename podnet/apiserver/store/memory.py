"""The in-memory store: the index every backend serves reads from.

Objects live in a dict with a sorted key list beside it (``bisect``), so a prefix list
is two binary searches and a slice, as an etcd range read over ``/registry/pods/ns/``.
Two locks: the write lock serialises writes (the single cluster-wide resourceVersion
needs a total order anyway) and is held while a persistent backend writes to disk; the
index lock is held only while a write changes the index and the change log, and by
readers (a dict lookup or a slice), so a read never waits for a disk write. A
persistent backend subclasses this and overrides :meth:`MemoryStore._persist`, which
runs under the write lock before the index changes: a write that fails to persist
changes nothing and takes no resourceVersion. Watchers are told (``on_ready``) after
both locks are released.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort

from podnet.apiserver.store.base import (
    Event,
    KeyExists,
    KeyMissing,
    Obj,
    StoreError,
    VersionMismatch,
)
from podnet.apiserver.store.changelog import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_QUEUE,
    ChangeLog,
    QueueWatch,
    call_all,
)


class StoreClosed(StoreError):
    pass


def obj_rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def prefix_end(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: none)."""
    p = prefix.rstrip("\U0010ffff")
    if not p:
        return None
    return p[:-1] + chr(ord(p[-1]) + 1)


class MemoryStore:
    """The :class:`~podnet.apiserver.store.base.Store` for tests and ``--data-dir``-less
    runs; nothing survives the process."""

    def __init__(
        self,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_queue: int = DEFAULT_MAX_QUEUE,
        _objects: dict[str, Obj] | None = None,
        _rv: int = 0,
    ) -> None:
        self._lock = threading.Lock()  # writers; then _index inside it, never the reverse
        self._index = threading.Lock()  # the index, rv and change log; readers
        self._objects: dict[str, Obj] = _objects if _objects is not None else {}
        self._keys: list[str] = sorted(self._objects)
        self._rv = _rv
        self._log = ChangeLog(_rv, max_events=max_events, max_queue=max_queue)
        self._closed = False

    # --- reads ---------------------------------------------------------------------------

    def current_rv(self) -> int:
        return self._rv

    def get(self, key: str) -> Obj | None:
        with self._index:
            return self._objects.get(key)

    def list(self, prefix: str) -> tuple[list[Obj], int]:
        with self._index:
            keys = self._keys
            lo = bisect_left(keys, prefix) if prefix else 0
            end = prefix_end(prefix)
            hi = bisect_left(keys, end, lo) if end is not None else len(keys)
            objects = self._objects
            return [objects[k] for k in keys[lo:hi]], self._rv

    def __len__(self) -> int:
        return len(self._objects)

    # --- writes --------------------------------------------------------------------------

    def create(self, key: str, obj: Obj) -> Obj:
        with self._lock:
            self._check_open()
            if key in self._objects:
                raise KeyExists(key)
            rv = self._stamp(obj)
            self._persist(key, obj, rv)
            with self._index:
                self._objects[key] = obj
                insort(self._keys, key)
                self._rv = rv
                ready = self._log.append(Event("ADDED", key, obj, rv))
        call_all(ready)
        return obj

    def update(self, key: str, obj: Obj, *, expect_rv: int | None = None) -> Obj:
        with self._lock:
            self._check_open()
            old = self._current(key, expect_rv)
            rv = self._stamp(obj)
            self._persist(key, obj, rv)
            with self._index:
                self._objects[key] = obj
                self._rv = rv
                ready = self._log.append(Event("MODIFIED", key, obj, rv, old))
        call_all(ready)
        return obj

    def delete(self, key: str, *, expect_rv: int | None = None) -> Obj:
        with self._lock:
            self._check_open()
            old = self._current(key, expect_rv)
            rv = self._rv + 1
            # The stored dict is shared with readers: the tombstone is a copy.
            gone = {**old, "metadata": {**old.get("metadata", {}), "resourceVersion": str(rv)}}
            self._persist(key, None, rv)
            with self._index:
                del self._objects[key]
                del self._keys[bisect_left(self._keys, key)]
                self._rv = rv
                ready = self._log.append(Event("DELETED", key, gone, rv, old))
        call_all(ready)
        return gone

    def watch(self, prefix: str, since_rv: int) -> QueueWatch:
        """Raises :class:`TooOld` when ``since_rv`` is older than the log reaches; 0 is
        an rv like any other here (the registry maps "" / "0" to the current rv)."""
        with self._index:
            self._check_open()
            return self._log.watch(prefix, since_rv)

    def close(self) -> None:
        with self._lock, self._index:
            self._closed = True
            self._log.close()

    # --- for subclasses ------------------------------------------------------------------

    def _persist(self, key: str, obj: Obj | None, rv: int) -> None:
        """Make one write durable (``obj`` None: a delete); raise to refuse it."""

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("store is closed")

    def _current(self, key: str, expect_rv: int | None) -> Obj:
        old = self._objects.get(key)
        if old is None:
            raise KeyMissing(key)
        if expect_rv is not None:
            current = obj_rv(old)
            if current != expect_rv:
                raise VersionMismatch(key, current)
        return old

    def _stamp(self, obj: Obj) -> int:
        """Write the next rv into ``obj``; metadata is copied, since a caller's new object
        often shares its metadata dict with the stored (shared) old one."""
        rv = self._rv + 1
        obj["metadata"] = {**obj.get("metadata", {}), "resourceVersion": str(rv)}
        return rv
