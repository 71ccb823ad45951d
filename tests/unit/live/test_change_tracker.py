"""ChangeTracker: handlers record readiness flips and pod changes; a sync takes them."""

from __future__ import annotations

import threading

from podnet.live.sync import ChangeTracker
from podnet.model.cluster import ClusterState


def empty_state() -> ClusterState:
    return ClusterState((), (), (), (), (), {})


def test_a_flip_is_recorded_once_and_taken_once() -> None:
    t = ChangeTracker(empty_state(), {"a": False, "b": False})
    assert t.record_ready("a", True)
    assert not t.record_ready("a", True)  # no change: no new sequence number
    assert t.seq == 1
    snap = t.take()
    assert (snap.seq, snap.flipped, snap.pods_changed) == (1, frozenset({"a"}), False)
    assert snap.ready == {"a": True, "b": False}
    assert t.take().empty


def test_a_flip_and_back_between_two_syncs_nets_out() -> None:
    t = ChangeTracker(empty_state(), {"a": False})
    t.record_ready("a", True)
    t.record_ready("a", False)
    snap = t.take()
    assert snap.empty and snap.seq == 2  # nothing to apply, but the marks are covered


def test_unknown_pods_start_not_ready() -> None:
    t = ChangeTracker(empty_state(), {})
    assert not t.record_ready("new", False)
    assert t.record_ready("new", True)


def test_pod_changes_replace_the_desired_state_and_reset_readiness() -> None:
    t = ChangeTracker(empty_state(), {"a": True})
    t.take()
    changed = ClusterState((), (), (), (), (), {}, warnings=("changed",))
    t.record_pods(changed, not_ready=["a"])
    assert t.desired() is changed
    snap = t.take()
    assert snap.pods_changed and snap.flipped == {"a"} and snap.ready == {"a": False}
    assert snap.state is changed


def test_concurrent_handlers_lose_no_change() -> None:
    t = ChangeTracker(empty_state(), {})

    def flip(prefix: str) -> None:
        for i in range(200):
            t.record_ready(f"{prefix}-{i}", True)

    threads = [threading.Thread(target=flip, args=(str(n),)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    snap = t.take()
    assert snap.seq == 800 and len(snap.flipped) == 800 and all(snap.ready.values())
