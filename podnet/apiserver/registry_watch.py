"""A registry watch: the store's watch filtered by namespace (its key prefix) and
selectors, as kube-apiserver's watch cache serves it (``cacher/cache_watcher.go``
``convertToWatchEvent``): an object that stops matching arrives as DELETED (its last
matching state at the new resourceVersion), one that starts matching as ADDED.

Consumers either ``poll()`` (with ``on_ready`` waking an event loop) or block in
``get(timeout)``. ``bookmark()`` makes a BOOKMARK at the resourceVersion of the last event
this watch has seen, so a client resuming from it misses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from podnet.apiserver.errors import gone
from podnet.apiserver.resources import Resource
from podnet.apiserver.selectors import Selector
from podnet.apiserver.store.base import Event, Obj, TooOld, Watch

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass
class WatchEvent:
    type: str  # ADDED MODIFIED DELETED BOOKMARK ERROR
    object: Obj


class RegistryWatch:
    def __init__(
        self, inner: Watch, sel: Selector, initial: list[WatchEvent], rv: int, res: Resource
    ) -> None:
        self.inner = inner
        self.selector = sel
        self.initial = initial
        self.rv = rv  # the newest resourceVersion this watch has seen
        self.res = res
        self._error_sent = False

    @property
    def on_ready(self) -> Callable[[], None] | None:
        return self.inner.on_ready

    @on_ready.setter
    def on_ready(self, callback: Callable[[], None] | None) -> None:
        self.inner.on_ready = callback
        if callback is not None and self.initial:
            callback()

    def _convert(self, ev: Event) -> WatchEvent | None:
        self.rv = max(self.rv, ev.rv)
        sel = self.selector
        now = sel.matches(ev.object) if ev.type != "DELETED" else False
        before = ev.previous is not None and sel.matches(ev.previous)
        if ev.type == "DELETED":
            return WatchEvent("DELETED", ev.object) if before else None
        if ev.type == "ADDED" or (now and not before):
            return WatchEvent("ADDED", ev.object) if now else None
        if now:
            return WatchEvent("MODIFIED", ev.object)
        if before and ev.previous is not None:
            last = {**ev.previous, "metadata": {**ev.previous["metadata"]}}
            last["metadata"]["resourceVersion"] = str(ev.rv)
            return WatchEvent("DELETED", last)
        return None

    def _error(self) -> WatchEvent | None:
        if self._error_sent or not self.inner.closed or self.inner.error is None:
            return None
        self._error_sent = True
        err = self.inner.error
        why = (
            f"too old resource version: {err.requested} ({err.oldest})"
            if isinstance(err, TooOld)
            else str(err)
        )
        return WatchEvent("ERROR", gone(why).status())

    def poll(self) -> list[WatchEvent]:
        """Every pending event (the initial ones first), without blocking."""
        out, self.initial = self.initial, []
        for ev in self.inner.poll():
            if (conv := self._convert(ev)) is not None:
                out.append(conv)
        if (err := self._error()) is not None:
            out.append(err)
        return out

    def get(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, waiting up to ``timeout`` seconds; None on timeout or end."""
        if self.initial:
            return self.initial.pop(0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ev = self.inner.get(left)
            if ev is None:
                return self._error()
            if (conv := self._convert(ev)) is not None:
                return conv

    def bookmark(self, *, initial_events_end: bool = False) -> WatchEvent:
        meta: Obj = {"resourceVersion": str(self.rv)}
        if initial_events_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj: Obj = {"kind": self.res.kind, "apiVersion": self.res.group_version, "metadata": meta}
        return WatchEvent("BOOKMARK", obj)

    @property
    def closed(self) -> bool:
        return self.inner.closed and not self.initial

    def close(self) -> None:
        self.inner.close()
