"""client-go's EventCorrelator (tools/record/events_cache.go): aggregation, dedup into
count/lastTimestamp patches, and the per-object spam filter; pure with a fake clock,
then through a real in-memory Registry."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from podnet.apiserver import events, tables
from podnet.apiserver.events import COMBINED, Correlated, EventCorrelator
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers import base

Obj = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


_names = itertools.count()


def event(message: str = "m", reason: str = "R", obj: str = "web", component: str = "c") -> Obj:
    return {
        "metadata": {"name": f"{obj}.{next(_names):x}", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": obj, "uid": obj},
        "source": {"component": component},
        "type": "Normal",
        "reason": reason,
        "message": message,
        "count": 1,
        "firstTimestamp": "t0",
        "lastTimestamp": "t1",
        "reportingComponent": component,
    }


def stored(result: Correlated | None) -> Obj:
    """What the server returns for a write of ``result`` (the recorder feeds it back)."""
    assert result is not None
    return result.event


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def corr(clock: Clock) -> EventCorrelator:
    return EventCorrelator(clock, lambda n: f"{n}.agg{next(_names)}")


def test_repeat_patches_count_of_the_first(corr: EventCorrelator, clock: Clock) -> None:
    first = corr.correlate(event())
    assert first is not None and first.patch is None
    corr.update_state(stored(first))
    clock.t += 5
    again = corr.correlate(event())
    assert again is not None and again.patch is not None
    assert again.event["metadata"]["name"] == first.event["metadata"]["name"]
    assert again.patch == {"count": 2, "lastTimestamp": "t1", "message": "m"}
    assert again.event["firstTimestamp"] == "t0"


def test_more_than_ten_similar_events_are_combined(corr: EventCorrelator, clock: Clock) -> None:
    out = []
    for i in range(12):
        clock.t += 1
        r = corr.correlate(event(f"Created pod: web-{i}"))
        out.append(r)
        corr.update_state(stored(r))
    assert all(r is not None and r.patch is None for r in out[:9])
    assert [stored(r)["message"] for r in out[:9]] == [f"Created pod: web-{i}" for i in range(9)]
    tenth, eleventh = stored(out[9]), out[10]
    assert tenth["message"] == COMBINED + "Created pod: web-9" and tenth["count"] == 1
    assert tenth["metadata"]["name"].startswith("web.agg")
    assert eleventh is not None and eleventh.patch is not None
    assert eleventh.event["metadata"]["name"] == tenth["metadata"]["name"]
    assert eleventh.patch["count"] == 2
    assert eleventh.patch["message"] == COMBINED + "Created pod: web-10"


def test_aggregation_window_is_ten_minutes(corr: EventCorrelator, clock: Clock) -> None:
    for i in range(9):
        corr.update_state(stored(corr.correlate(event(f"m{i}"))))
    clock.t += 601  # the similar ones are too old: a fresh record
    r = corr.correlate(event("m9"))
    assert r is not None and stored(r)["message"] == "m9"


def test_spam_filter_burst_25_then_one_per_5_minutes(corr: EventCorrelator, clock: Clock) -> None:
    results = []
    for _ in range(30):
        results.append(r := corr.correlate(event("Back-off", "BackOff")))
        if r is not None:
            corr.update_state(stored(r))
    accepted = [r for r in results if r is not None]
    assert len(accepted) == 25 and results[25:] == [None] * 5
    clock.t += 299
    assert corr.correlate(event("Back-off", "BackOff")) is None
    clock.t += 301  # two tokens' worth of refill, one per call
    later = corr.correlate(event("Back-off", "BackOff"))
    assert later is not None and later.patch is not None
    assert later.patch["count"] == 32  # the filtered ones were counted all the same


def test_spam_bucket_is_per_source_and_object(corr: EventCorrelator) -> None:
    for i in range(25):
        assert corr.correlate(event(f"m{i % 3}", reason=f"R{i % 2}")) is not None
    assert corr.correlate(event("other", reason="Other")) is None  # same object: no tokens
    assert corr.correlate(event(obj="db")) is not None
    assert corr.correlate(event(component="kubelet")) is not None


def test_lru_forgets_the_least_recently_used() -> None:
    lru: events._LRU[str, int] = events._LRU(2)
    lru.add("a", 1)
    lru.add("b", 2)
    assert lru.get("a") == 1
    lru.add("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3


# --- through a real Registry -------------------------------------------------------------


def _res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


EV = _res("Event")


@pytest.fixture
def reg(clock: Clock) -> Registry:
    r = Registry(MemoryStore(), clock=clock, rng=random.Random(0))
    r.create(_res("Namespace"), None, {"metadata": {"name": "default"}})
    return r


def test_scale_up_events_are_combined_and_counted(reg: Registry, clock: Clock) -> None:
    rs = reg.create(
        _res("ReplicaSet", "apps"),
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    for i in range(1000):  # 100 s: no token refilled
        clock.t += 0.1
        base.record_event(reg, rs, "Normal", "SuccessfulCreate", f"Created pod: web-{i}", "rs")
    listed = reg.list(EV, "default", field_selector="involvedObject.name=web").items
    assert len(listed) == 10  # 9 distinct, then the combined one
    combined = [e for e in listed if e["message"].startswith(COMBINED)]
    assert len(combined) == 1
    # 25 writes passed the spam filter: 9 creates, the combined create and 15 patches
    assert combined[0]["count"] == 16
    assert combined[0]["lastTimestamp"] != combined[0]["firstTimestamp"]
    assert combined[0]["message"] == COMBINED + "Created pod: web-24"
    # as `kubectl get events -o wide` shows them (the server's Table: Count column)
    table = tables.table(EV, listed, include_object="None", now=clock.t)
    names = [c["name"] for c in table["columnDefinitions"]]
    counts = sorted(int(r["cells"][names.index("Count")]) for r in table["rows"])
    assert counts == [1] * 9 + [16]


def test_kubelet_repeats_are_one_event_with_a_count(reg: Registry, clock: Clock) -> None:
    pod = reg.create(
        _res("Pod"),
        "default",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
    )
    names = set()
    for _ in range(5):
        clock.t += 10
        ev = events.record_event(
            reg, pod, "Warning", "BackOff", "Back-off restarting", "kubelet", host="node-0"
        )
        assert ev is not None
        names.add(ev["metadata"]["name"])
    listed = reg.list(EV, "default", field_selector="involvedObject.name=p").items
    assert len(names) == 1 and len(listed) == 1
    assert listed[0]["count"] == 5 and listed[0]["source"] == {
        "component": "kubelet",
        "host": "node-0",
    }


def test_patched_event_deleted_meanwhile_is_created_again(reg: Registry) -> None:
    pod = reg.create(
        _res("Pod"),
        "default",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
    )
    first = events.record_event(reg, pod, "Normal", "Pulled", "pulled", "kubelet")
    assert first is not None
    reg.delete(EV, "default", first["metadata"]["name"])
    again = events.record_event(reg, pod, "Normal", "Pulled", "pulled", "kubelet")
    assert again is not None and again["count"] == 2
    assert again["metadata"]["name"] == first["metadata"]["name"]
