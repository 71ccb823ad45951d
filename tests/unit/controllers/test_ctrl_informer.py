"""The work queue (dedup, one worker per key, back-off), expectations, and an informer
following the real registry."""

from __future__ import annotations

import time

from support.ctrl_loop import CONFIGMAPS, NAMESPACES, wait_for

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.base import controller_uid
from podnet.controllers.informer import Expectations, Informer, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_queue_dedups_a_key_queued_twice() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert [q.get(0), q.get(0), q.get(0)] == ["a", "b", None]


def test_key_added_while_processing_comes_back_after_done_only() -> None:
    q = WorkQueue()
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")  # dirty while processing: not handed to a second worker
    assert q.get(0) is None
    q.done("a")
    assert q.get(0) == "a"
    q.done("a")
    assert q.get(0) is None


def test_rate_limited_back_off_doubles_from_5ms_to_1000s_and_forget_resets() -> None:
    q = WorkQueue(clock=FakeClock())
    delays = [q.add_rate_limited("k") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0
    assert max(delays) == 1000.0
    q.forget("k")
    assert q.add_rate_limited("k") == 0.005


def test_add_after_is_due_only_after_its_delay() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("k", 1.0)
    assert q.get(0) is None
    clock.t += 1.0
    assert q.get(0) == "k"


def test_shut_down_wakes_a_waiting_get() -> None:
    q = WorkQueue()
    q.shut_down()
    start = time.monotonic()
    assert q.get(5.0) is None
    assert time.monotonic() - start < 1.0


def test_expectations_wait_for_adds_and_named_deletes() -> None:
    e = Expectations()
    assert e.satisfied("rs")
    e.expect("rs", adds=2, deletes=["ns/p1"])
    e.observed_add("rs")
    e.observed_add("rs")
    assert not e.satisfied("rs")
    e.observed_delete("rs", "ns/other")
    assert not e.satisfied("rs")
    e.observed_delete("rs", "ns/p1")
    assert e.satisfied("rs")


def test_expectations_expire() -> None:
    clock = FakeClock()
    e = Expectations(clock)
    e.expect("rs", adds=1)
    assert not e.satisfied("rs")
    clock.t += Expectations.TIMEOUT + 1
    assert e.satisfied("rs")


def _cm(name: str, owner: str = "") -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": owner, "controller": True}
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def test_informer_cache_index_and_handlers_follow_the_registry() -> None:
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    registry.create(CONFIGMAPS, "default", _cm("before", owner="u1"))
    inf = Informer(registry, CONFIGMAPS)
    inf.add_index("controller", controller_uid)
    seen: list[tuple[str, str]] = []
    inf.add_handler(lambda t, old, new: seen.append((t, (new or {})["metadata"]["name"])))
    inf.start()
    try:
        assert inf.wait_synced(5)
        assert inf.get("default/before") is not None
        registry.create(CONFIGMAPS, "default", _cm("after", owner="u1"))
        wait_for(lambda: len(inf.by_index("controller", "u1")) == 2, what="index")
        registry.delete(CONFIGMAPS, "default", "before")
        wait_for(lambda: inf.get("default/before") is None, what="delete seen")
        assert [o["metadata"]["name"] for o in inf.by_index("controller", "u1")] == ["after"]
        assert seen == [("ADDED", "before"), ("ADDED", "after"), ("DELETED", "before")]
    finally:
        inf.stop()
        registry.store.close()


def test_informer_relists_after_its_watch_ends_and_reports_the_difference() -> None:
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    registry.create(CONFIGMAPS, "default", _cm("a"))
    inf = Informer(registry, CONFIGMAPS)
    seen: list[tuple[str, str]] = []
    inf.add_handler(lambda t, old, new: seen.append((t, (new or {})["metadata"]["name"])))
    inf.start()
    try:
        assert inf.wait_synced(5)
        w = wait_for(lambda: inf._watch, what="watching")
        # the watch is ended under the informer (as the store ends a slow watcher), and
        # the changes made meanwhile come back through the relist
        w.inner.close()  # type: ignore[union-attr]
        registry.create(CONFIGMAPS, "default", _cm("b"))
        registry.delete(CONFIGMAPS, "default", "a")
        wait_for(lambda: sorted(o["metadata"]["name"] for o in inf.objects()) == ["b"])
        assert ("ADDED", "b") in seen and ("DELETED", "a") in seen
    finally:
        inf.stop()
        registry.store.close()


def test_manager_starts_and_stops_within_its_bound() -> None:
    from podnet.controllers.manager import ControllerManager

    registry = Registry(MemoryStore())
    manager = ControllerManager(registry, nodes=1)
    manager.start()
    assert manager.wait_synced(10)
    start = time.monotonic()
    manager.stop(5.0)
    assert time.monotonic() - start < 5.0
    registry.store.close()


def test_add_after_keeps_one_waiting_entry_the_earliest() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("k", 1.0)
    q.add_after("k", 5.0)  # later: ignored
    q.add_after("k", 0.5)  # earlier: replaces
    clock.t += 0.5
    assert q.get(0) == "k"
    q.done("k")
    clock.t += 5.0
    assert q.get(0) is None  # the replaced entries do not come back
    q.add("j")
    q.add_after("j", 1.0)  # already queued: nothing more
    assert q.get(0) == "j"
    q.done("j")
    clock.t += 1.0
    assert q.get(0) is None
