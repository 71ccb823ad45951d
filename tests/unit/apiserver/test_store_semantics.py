"""The Store contract (store/base.py), run against every backend.

resourceVersion, compare-and-swap and watch semantics as kube-apiserver gives them over
etcd (``k8s.io/apiserver/pkg/storage/interfaces.go``, ``cacher/watch_cache.go``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver.store.base import (
    Event,
    KeyExists,
    KeyMissing,
    Obj,
    TooOld,
    VersionMismatch,
)
from podnet.apiserver.store.memory import MemoryStore, StoreClosed

MakeStore = Callable[..., MemoryStore]

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    opened: list[MemoryStore] = []

    def make(**kw: Any) -> MemoryStore:
        if request.param == "memory":
            s = MemoryStore(**kw)
        else:
            from podnet.apiserver.store.sqlite import SQLiteStore

            s = SQLiteStore(tmp_path / f"db{len(opened)}.sqlite", **kw)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store: MakeStore) -> MemoryStore:
    return make_store()


def pod(name: str, ns: str = "default", **extra: Any) -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns}, **extra}


def rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_create_get_update_delete(store: MemoryStore) -> None:
    created = store.create("core/pods/default/a", pod("a", spec={"x": 1}))
    assert rv(created) == 1 == store.current_rv()
    assert store.get("core/pods/default/a") is created
    updated = store.update("core/pods/default/a", pod("a", spec={"x": 2}))
    assert rv(updated) == 2
    assert store.get("core/pods/default/a") == updated
    gone = store.delete("core/pods/default/a")
    assert rv(gone) == 3 == store.current_rv()
    assert gone["spec"] == {"x": 2}
    assert store.get("core/pods/default/a") is None
    assert store.list("core/pods/") == ([], 3)


def test_missing_and_existing_keys(store: MemoryStore) -> None:
    store.create("core/pods/default/a", pod("a"))
    with pytest.raises(KeyExists):
        store.create("core/pods/default/a", pod("a"))
    with pytest.raises(KeyMissing):
        store.update("core/pods/default/b", pod("b"))
    with pytest.raises(KeyMissing):
        store.delete("core/pods/default/b")
    assert store.current_rv() == 1  # failed writes take no resourceVersion


def test_rv_strictly_increasing_across_keys_and_kinds(store: MemoryStore) -> None:
    seen = []
    for i in range(5):
        seen.append(rv(store.create(f"core/pods/default/p{i}", pod(f"p{i}"))))
        seen.append(rv(store.create(f"core/nodes//node-{i}", {"metadata": {"name": f"n{i}"}})))
    seen.append(rv(store.delete("core/pods/default/p0")))
    seen.append(rv(store.update("core/nodes//node-1", {"metadata": {"name": "n1"}})))
    assert seen == list(range(1, 13))


def test_delete_does_not_touch_the_shared_object(store: MemoryStore) -> None:
    created = store.create("core/pods/default/a", pod("a"))
    gone = store.delete("core/pods/default/a")
    assert created["metadata"]["resourceVersion"] == "1"
    assert gone["metadata"]["resourceVersion"] == "2"


def test_stamping_does_not_leak_into_the_previous_object(store: MemoryStore) -> None:
    old = store.create("core/pods/default/a", pod("a"))
    new = dict(old)  # a shallow copy shares the metadata dict with the stored object
    store.update("core/pods/default/a", new)
    assert old["metadata"]["resourceVersion"] == "1"
    assert new["metadata"]["resourceVersion"] == "2"


def test_compare_and_swap(store: MemoryStore) -> None:
    store.create("core/pods/default/a", pod("a"))
    store.update("core/pods/default/a", pod("a"), expect_rv=1)
    with pytest.raises(VersionMismatch) as e:
        store.update("core/pods/default/a", pod("a"), expect_rv=1)
    assert e.value.current == 2
    with pytest.raises(VersionMismatch) as e:
        store.delete("core/pods/default/a", expect_rv=1)
    assert e.value.current == 2
    assert store.current_rv() == 2
    assert rv(store.delete("core/pods/default/a", expect_rv=2)) == 3


def test_list_prefix_sorted_with_snapshot_rv(store: MemoryStore) -> None:
    names = ["b", "a", "c", "aa", "a-1"]
    for n in names:
        store.create(f"core/pods/default/{n}", pod(n))
    store.create("core/pods/default2/z", pod("z", "default2"))
    store.create("core/pods/kube-system/a", pod("a", "kube-system"))
    store.create("core/services/default/a", {"metadata": {"name": "a"}})
    items, at = store.list("core/pods/default/")
    assert [i["metadata"]["name"] for i in items] == sorted(names)
    assert at == 8
    everything, _ = store.list("core/pods/")
    assert len(everything) == 7
    assert [k["metadata"]["name"] for k in store.list("")[0]][-1] == "a"  # services last
    store.delete("core/pods/default/aa")
    assert [i["metadata"]["name"] for i in store.list("core/pods/default/")[0]] == [
        "a",
        "a-1",
        "b",
        "c",
    ]
    assert store.list("core/pods/nope/") == ([], 9)


def test_list_ten_thousand_keys_by_namespace(store: MemoryStore) -> None:
    for i in range(10_000):
        store.create(f"core/pods/ns-{i % 10}/p{i:05d}", pod(f"p{i:05d}", f"ns-{i % 10}"))
    items, _ = store.list("core/pods/ns-3/")
    assert len(items) == 1000
    assert [i["metadata"]["name"] for i in items] == sorted(
        f"p{i:05d}" for i in range(3, 10_000, 10)
    )


# --- watches -------------------------------------------------------------------------


def kinds(events: list[Event]) -> list[tuple[str, str, int]]:
    return [(e.type, e.key.rsplit("/", 1)[1], e.rv) for e in events]


def test_watch_replays_then_follows(store: MemoryStore) -> None:
    store.create("core/pods/default/a", pod("a"))
    store.create("core/pods/default/b", pod("b"))
    store.update("core/pods/default/a", pod("a", spec={"v": 2}))
    w = store.watch("core/pods/", 1)
    assert kinds(w.poll()) == [("ADDED", "b", 2), ("MODIFIED", "a", 3)]
    store.delete("core/pods/default/b")
    ev = w.get(timeout=1)
    assert ev is not None
    assert (ev.type, ev.rv, ev.object["metadata"]["resourceVersion"]) == ("DELETED", 4, "4")
    assert ev.previous is not None and ev.previous["metadata"]["resourceVersion"] == "2"
    assert w.get(timeout=0.01) is None
    w.close()


def test_watch_previous_object(store: MemoryStore) -> None:
    w = store.watch("", 0)
    store.create("core/pods/default/a", pod("a", metadata={"name": "a", "labels": {"x": "1"}}))
    store.update("core/pods/default/a", pod("a", metadata={"name": "a", "labels": {"x": "2"}}))
    added, modified = w.poll()
    assert added.previous is None
    assert modified.previous is added.object
    assert modified.object["metadata"]["labels"] == {"x": "2"}
    w.close()


def test_watch_from_current_rv_sees_only_new_writes(store: MemoryStore) -> None:
    store.create("core/pods/default/a", pod("a"))
    w = store.watch("core/pods/", store.current_rv())
    assert w.poll() == []
    store.create("core/pods/default/b", pod("b"))
    assert kinds(w.poll()) == [("ADDED", "b", 2)]
    w.close()


def test_watch_prefix_filtering(store: MemoryStore) -> None:
    w = store.watch("core/pods/default/", 0)
    store.create("core/pods/default/a", pod("a"))
    store.create("core/pods/default2/a", pod("a", "default2"))
    store.create("core/services/default/a", {"metadata": {"name": "a"}})
    store.create("core/pods/default/b", pod("b"))
    assert kinds(w.poll()) == [("ADDED", "a", 1), ("ADDED", "b", 4)]
    w.close()


def test_watch_too_old_after_compaction(make_store: MakeStore) -> None:
    store = make_store(max_events=5)
    for i in range(8):
        store.create(f"core/pods/default/p{i}", pod(f"p{i}"))
    # the log holds rv 4..8: a watch may start from rv 3 on
    with pytest.raises(TooOld) as e:
        store.watch("core/pods/", 2)
    assert (e.value.requested, e.value.oldest) == (2, 3)
    assert "too old resource version: 2 (3)" in str(e.value)
    w = store.watch("core/pods/", 3)
    assert [ev.rv for ev in w.poll()] == [4, 5, 6, 7, 8]
    w.close()


def test_watch_ahead_of_current_rv_skips_until_then(store: MemoryStore) -> None:
    w = store.watch("", 2)
    for i in range(4):
        store.create(f"core/pods/default/p{i}", pod(f"p{i}"))
    assert [ev.rv for ev in w.poll()] == [3, 4]
    w.close()


def test_slow_watcher_is_closed_with_too_old(make_store: MakeStore) -> None:
    store = make_store(max_queue=10)
    slow = store.watch("core/pods/", 0)
    woken: list[int] = []
    slow.on_ready = lambda: woken.append(1)
    other = store.watch("core/nodes/", 0)
    for i in range(11):
        store.create(f"core/pods/default/p{i}", pod(f"p{i}"))
    assert slow.closed
    assert isinstance(slow.error, TooOld)
    assert slow.poll() == []
    assert slow.get(timeout=0.01) is None
    assert len(woken) == 11  # ten events, then the close
    assert not other.closed and other.error is None
    store.create("core/pods/default/more", pod("more"))  # a closed watcher gets nothing more
    assert len(woken) == 11
    other.close()


def test_on_ready_called_after_queueing_outside_the_lock(store: MemoryStore) -> None:
    w = store.watch("", 0)
    seen: list[int] = []

    def ready() -> None:
        # the event is queued, and the store is not locked: a read works from here
        seen.append(len(store.list("")[0]))
        seen.extend(e.rv for e in w.poll())

    w.on_ready = ready
    store.create("core/pods/default/a", pod("a"))
    store.create("core/pods/default/b", pod("b"))
    assert seen == [1, 1, 2, 2]
    w.close()


def test_on_ready_set_after_replay_is_called_at_once(store: MemoryStore) -> None:
    store.create("core/pods/default/a", pod("a"))
    w = store.watch("", 0)
    calls: list[int] = []
    w.on_ready = lambda: calls.append(1)
    assert calls == [1]
    w.close()


def test_failing_on_ready_does_not_fail_the_write(store: MemoryStore) -> None:
    w = store.watch("", 0)

    def boom() -> None:
        raise RuntimeError("consumer bug")

    w.on_ready = boom
    store.create("core/pods/default/a", pod("a"))
    assert store.get("core/pods/default/a") is not None
    assert len(w.poll()) == 1
    w.close()


def test_close_wakes_a_blocked_get(store: MemoryStore) -> None:
    w = store.watch("", 0)
    result: list[Event | None] = []
    t = threading.Thread(target=lambda: result.append(w.get()))
    t.start()
    t.join(0.05)
    assert t.is_alive()
    w.close()
    t.join(2)
    assert not t.is_alive()
    assert result == [None]
    assert w.closed and w.error is None


def test_get_wakes_on_a_write_from_another_thread(store: MemoryStore) -> None:
    w = store.watch("", 0)
    timer = threading.Timer(0.05, lambda: store.create("core/pods/default/a", pod("a")))
    timer.start()
    ev = w.get(timeout=5)
    timer.join()
    assert ev is not None and ev.key == "core/pods/default/a"
    w.close()


def test_store_close_closes_watches_and_refuses_writes(make_store: MakeStore) -> None:
    store = make_store()
    w = store.watch("", 0)
    store.close()
    assert w.closed
    with pytest.raises(StoreClosed):
        store.create("core/pods/default/a", pod("a"))


def test_concurrent_cas_increments_lose_nothing(store: MemoryStore) -> None:
    threads_n, increments = 8, 200
    store.create("core/configmaps/default/counter", {"metadata": {"name": "c"}, "n": 0})
    w = store.watch("core/configmaps/", store.current_rv())
    conflicts = [0] * threads_n

    def worker(i: int) -> None:
        for _ in range(increments):
            while True:
                cur = store.get("core/configmaps/default/counter")
                assert cur is not None
                new = {**cur, "n": cur["n"] + 1}
                try:
                    store.update("core/configmaps/default/counter", new, expect_rv=rv(cur))
                    break
                except VersionMismatch:
                    conflicts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.get("core/configmaps/default/counter")
    assert final is not None and final["n"] == threads_n * increments
    assert store.current_rv() == 1 + threads_n * increments
    events = w.poll()
    assert [e.object["n"] for e in events] == list(range(1, threads_n * increments + 1))
    assert [e.rv for e in events] == list(range(2, threads_n * increments + 2))
    w.close()


class GatedStore(MemoryStore):
    """A backend whose disk write waits for a gate, or fails: what readers and the index
    see meanwhile is the memory store's business."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fail = False

    def _persist(self, key: str, obj: Obj | None, rv: int) -> None:
        self.entered.set()
        assert self.gate.wait(5)
        if self.fail:
            raise OSError("disk full")


def test_reads_do_not_wait_for_a_disk_write() -> None:
    store = GatedStore()
    store.gate.set()
    store.create("core/pods/default/a", pod("a"))
    store.gate.clear()
    w = store.watch("", 1)
    writer = threading.Thread(target=lambda: store.create("core/pods/default/b", pod("b")))
    writer.start()
    try:
        assert store.entered.wait(5)
        # the write is stuck in _persist: reads answer from the last committed state
        assert store.get("core/pods/default/a") is not None
        assert store.get("core/pods/default/b") is None
        assert store.list("core/pods/") == ([store.get("core/pods/default/a")], 1)
        assert w.poll() == []
    finally:
        store.gate.set()
        writer.join(5)
    assert [e.rv for e in w.poll()] == [2]
    store.close()


def test_a_failed_disk_write_changes_nothing() -> None:
    store = GatedStore()
    store.gate.set()
    store.create("core/pods/default/a", pod("a"))
    w = store.watch("", 1)
    store.fail = True
    with pytest.raises(OSError):
        store.create("core/pods/default/b", pod("b"))
    with pytest.raises(OSError):
        store.delete("core/pods/default/a")
    assert store.current_rv() == 1
    assert [o["metadata"]["name"] for o in store.list("")[0]] == ["a"]
    assert w.poll() == []
    store.fail = False
    assert rv(store.create("core/pods/default/b", pod("b"))) == 2
    store.close()
