"""The change log finds a write's watchers by the key's prefixes (each ending at a
"/") instead of testing every watcher: each watcher still gets exactly the events
under its prefix, in order, whatever its prefix looks like, and closed watchers are
dropped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from podnet.apiserver.store.base import Event
from podnet.apiserver.store.changelog import ChangeLog

KEYS = [
    "core/pods/ns1/a",
    "core/pods/ns2/b",
    "core/nodes//n1",
    "core/podtemplates/ns1/t",
    "apps/deployments/ns1/d",
    "core/pods/ns1/c",
]
PREFIXES = ["", "core/", "core/pods/", "core/pods/ns1/", "core/nodes//", "core/pod", "apps"]


def _write(log: ChangeLog, rv: int, key: str) -> list[Callable[[], None]]:
    return log.append(Event("ADDED", key, {"metadata": {"name": key}}, rv))


def test_each_watcher_gets_the_events_under_its_prefix_in_order() -> None:
    log = ChangeLog(0)
    watches = {p: log.watch(p, 0) for p in PREFIXES}
    for w in watches.values():
        w.waiting = 1  # as if a consumer were blocked in get(): each is to be woken
    for rv, key in enumerate(KEYS, 1):
        callbacks = _write(log, rv, key)
        assert len(callbacks) == sum(1 for p in PREFIXES if key.startswith(p))
    for prefix, w in watches.items():
        assert [e.key for e in w.poll()] == [k for k in KEYS if k.startswith(prefix)], prefix
    assert log.watchers == len(PREFIXES)


def test_on_ready_callbacks_come_before_the_blocked_consumers() -> None:
    log = ChangeLog(0)
    called: list[str] = []
    streamed = log.watch("core/pods/", 0)
    blocked = log.watch("core/", 0)
    idle = log.watch("core/pods/ns1/", 0)
    streamed.on_ready = lambda: called.append("stream")
    blocked.waiting = 1
    callbacks = _write(log, 1, "core/pods/ns1/a")
    # the idle watcher's consumer is not in get(): it finds the event when it comes
    assert callbacks == [streamed.on_ready, blocked._notify]
    assert [e.rv for e in idle.poll()] == [1]


def test_a_consumer_blocked_in_get_is_woken_by_a_write() -> None:
    log = ChangeLog(0)
    w = log.watch("core/pods/", 0)
    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(getattr(w.get(10), "rv", -1)))
    t.start()
    deadline = time.monotonic() + 5
    while not w.waiting and time.monotonic() < deadline:
        time.sleep(0.001)
    assert w.waiting == 1
    started = time.monotonic()
    for callback in _write(log, 1, "core/pods/ns1/a"):
        callback()
    t.join(5)
    assert got == [1] and time.monotonic() - started < 2 and w.waiting == 0


def test_closed_watchers_are_dropped_and_a_late_watch_replays_the_log() -> None:
    log = ChangeLog(0)
    first = log.watch("core/pods/", 0)
    other = log.watch("x", 0)
    _write(log, 1, "core/pods/ns1/a")
    first.close()
    other.close()
    assert log.watchers == 0
    assert _write(log, 2, "core/pods/ns1/b") == []
    for _ in range(70):  # watchers of prefixes no write reaches are swept now and then
        log.watch("core/configmaps/", 2).close()
    assert log.watchers == 0 and sum(len(ws) for ws in log._by_prefix.values()) < 64
    late = log.watch("core/pods/ns1/", 0)
    assert [e.rv for e in late.poll()] == [1, 2]
