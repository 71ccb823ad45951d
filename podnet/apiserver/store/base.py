"""The store behind the API: a small interface, so another backend can be added.

What etcd is to kube-apiserver, reduced to what the API needs
(``k8s.io/apiserver/pkg/storage/interfaces.go``): objects as JSON-shaped dicts under
string keys (``Resource.key``), one cluster-wide, strictly increasing resourceVersion
that every write takes (and writes into ``metadata.resourceVersion`` as a string),
compare-and-swap on it, and watches that replay the change log from a resourceVersion
and then follow new writes.

Ownership: a dict handed to the store belongs to it from then on, and dicts the store
returns are shared and must never be mutated (copy first). This keeps reads free of
copies, the common case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Obj = dict[str, Any]


class StoreError(Exception):
    """Base of the store's own errors; the registry maps each to an API Status."""


class KeyExists(StoreError):
    pass


class KeyMissing(StoreError):
    pass


class VersionMismatch(StoreError):
    """A compare-and-swap lost: the key's resourceVersion is not the one expected."""

    def __init__(self, key: str, current: int) -> None:
        super().__init__(key)
        self.current = current


class TooOld(StoreError):
    """A watch from a resourceVersion the change log no longer holds (HTTP 410)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested, self.oldest = requested, oldest


@dataclass(frozen=True)
class Event:
    type: str  # "ADDED", "MODIFIED", "DELETED"
    key: str
    object: Obj  # the object after the write (for DELETED: as it was, with the delete's rv)
    rv: int
    previous: Obj | None = None  # the object before the write (None for ADDED)


class Watch(Protocol):
    """Events under one key prefix, from a resourceVersion on, in order.

    ``on_ready`` (set by the consumer) is called from the writer's thread each time
    events are queued, so an asyncio consumer can ``call_soon_threadsafe``; it must not
    block. A consumer that falls too far behind is ended (``closed`` with ``error``
    set to :class:`TooOld`), as the API server ends a slow watcher.
    """

    on_ready: Callable[[], None] | None
    error: StoreError | None

    def poll(self) -> list[Event]:
        """Every queued event, without blocking."""
        ...

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None: forever); None on
        timeout or once closed."""
        ...

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...


class Store(Protocol):
    """Thread-safe; every write is durable when the call returns (for a persistent store)."""

    def current_rv(self) -> int: ...

    def get(self, key: str) -> Obj | None: ...

    def list(self, prefix: str) -> tuple[list[Obj], int]:
        """Every object whose key starts with ``prefix``, sorted by key, and the
        resourceVersion of that snapshot."""
        ...

    def create(self, key: str, obj: Obj) -> Obj:
        """Store a new object (raises :class:`KeyExists`); returns it with its rv."""
        ...

    def update(self, key: str, obj: Obj, *, expect_rv: int | None = None) -> Obj:
        """Replace an object (raises :class:`KeyMissing`, or :class:`VersionMismatch`
        when ``expect_rv`` is given and differs)."""
        ...

    def delete(self, key: str, *, expect_rv: int | None = None) -> Obj:
        """Remove an object; returns it as deleted (with the delete's rv)."""
        ...

    def watch(self, prefix: str, since_rv: int) -> Watch:
        """Events under ``prefix`` with rv > ``since_rv`` (raises :class:`TooOld`)."""
        ...

    def close(self) -> None: ...
