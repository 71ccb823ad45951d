"""core/v1 Events, as client-go's event recorder writes them (``tools/record/event.go``
``recordToSink``/``recordEvent``), through its EventCorrelator
(``staging/src/k8s.io/client-go/tools/record/events_cache.go``):

- aggregation: more than 10 events in 10 minutes that differ only in their message
  (same source, object, type and reason) become one Event whose message is
  ``(combined from similar events): <latest message>``;
- dedup: a repeat of an event (or of that combined one) PATCHes ``count``,
  ``lastTimestamp`` and ``message`` of the first Event instead of adding another;
- spam filter: a token bucket per source and object (burst 25, one more every
  5 minutes) drops the rest; counts go on being kept, so the next write carries them.

Called by the controllers and the kubelet through :func:`record_event`; an Event is
best-effort (a failed write is dropped, as the recorder drops it), so this never raises
for a namespace being deleted. :class:`EventCorrelator` is pure (a clock in, decisions
out): one per registry, shared by every component of the process.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import by_kind
from podnet.apiserver.strategy import rfc3339

if TYPE_CHECKING:
    from podnet.apiserver.registry import Registry

Obj = dict[str, Any]
EVENTS = by_kind("", "Event")
MAX_CACHE = 4096  # maxLruCacheEntries
AGGREGATE_MAX_EVENTS = 10  # defaultAggregateMaxEvents
AGGREGATE_INTERVAL = 600.0  # defaultAggregateIntervalInSeconds
SPAM_BURST = 25  # defaultSpamBurst
SPAM_QPS = 1.0 / 300.0  # defaultSpamQPS
COMBINED = "(combined from similar events): "  # EventAggregatorByReasonMessageFunc
STRATEGIC = "application/strategic-merge-patch+json"

K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """groupcache's lru.Cache: the least recently used entry goes past ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._d.get(key)
        if value is not None:
            self._d.move_to_end(key)
        return value

    def add(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        if len(self._d) > self.size:
            self._d.popitem(last=False)


@dataclass
class _Bucket:
    """flowcontrol's token bucket (golang.org/x/time/rate): starts full."""

    tokens: float
    last: float

    def try_accept(self, now: float, qps: float, burst: int) -> bool:
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.last) * qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Aggregate:
    local_keys: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass(frozen=True)
class _Log:
    count: int
    first_timestamp: str
    name: str


@dataclass(frozen=True)
class Correlated:
    """What to write: ``event`` to create, or, with ``patch``, the Event of that name to
    patch (its ``count`` > 1)."""

    event: Obj
    patch: Obj | None


def _event_key(ev: Obj) -> tuple[str, ...]:
    """getEventKey: source, object, type, reason and message."""
    ref = ev.get("involvedObject") or {}
    return (
        *_spam_key(ev),
        ref.get("fieldPath", ""),
        ev.get("type", ""),
        ev.get("reason", ""),
        ev.get("message", ""),
    )


def _spam_key(ev: Obj) -> tuple[str, ...]:
    """getSpamKey: source and object (not the reason: one bucket per object)."""
    src, ref = ev.get("source") or {}, ev.get("involvedObject") or {}
    return (
        src.get("component", ""),
        src.get("host", ""),
        ref.get("kind", ""),
        ref.get("namespace", ""),
        ref.get("name", ""),
        ref.get("uid", ""),
        ref.get("apiVersion", ""),
    )


def _aggregate_key(ev: Obj) -> tuple[str, ...]:
    """EventAggregatorByReasonFunc: everything but the message (the local key); tagged,
    as it also keys the combined Event's log beside the full event keys."""
    return (
        "aggregate",
        *_spam_key(ev),
        ev.get("type", ""),
        ev.get("reason", ""),
        ev.get("reportingComponent", ""),
        ev.get("reportingInstance", ""),
    )


class EventCorrelator:
    """client-go's EventCorrelator (NewEventCorrelator's defaults): ``correlate`` an
    Event about to be written, write what it says, then ``update_state`` with the
    stored Event. ``name`` makes the name of a new aggregate Event."""

    def __init__(
        self,
        clock: Callable[[], float],
        name: Callable[[str], str],
        *,
        cache_size: int = MAX_CACHE,
        max_events: int = AGGREGATE_MAX_EVENTS,
        max_interval: float = AGGREGATE_INTERVAL,
        burst: int = SPAM_BURST,
        qps: float = SPAM_QPS,
    ) -> None:
        self.clock, self._name = clock, name
        self.max_events, self.max_interval = max_events, max_interval
        self.burst, self.qps = burst, qps
        self._aggregates: _LRU[tuple[str, ...], _Aggregate] = _LRU(cache_size)
        self._logs: _LRU[tuple[str, ...], _Log] = _LRU(cache_size)
        self._spam: _LRU[tuple[str, ...], _Bucket] = _LRU(cache_size)
        self._lock = threading.Lock()

    def correlate(self, event: Obj) -> Correlated | None:
        """EventCorrelate: aggregate, observe (dedup), then the spam filter; None to skip."""
        with self._lock:
            now = self.clock()
            aggregated, key = self._aggregate(event, now)
            observed, patch = self._observe(aggregated, key)
            if not self._accept(observed, now):
                return None
            return Correlated(observed, patch)

    def update_state(self, stored: Obj) -> None:
        """UpdateState: the server's copy (name, count) under its full event key."""
        with self._lock:
            self._logs.add(_event_key(stored), _log_of(stored))

    def _aggregate(self, event: Obj, now: float) -> tuple[Obj, tuple[str, ...]]:
        """EventAggregate: the event itself and its full key, or past the threshold the
        combined event and the aggregate key (so that its later ones patch it)."""
        agg_key = _aggregate_key(event)
        record = self._aggregates.get(agg_key)
        if record is None or now - record.last > self.max_interval:
            record = _Aggregate()
        record.local_keys.add(str(event.get("message", "")))
        record.last = now
        self._aggregates.add(agg_key, record)
        if len(record.local_keys) < self.max_events:
            return event, _event_key(event)
        record.local_keys.pop()  # PopAny: the set stays at max_events - 1
        stamp = rfc3339(now)
        ref = event.get("involvedObject") or {}
        combined = {
            **event,
            "metadata": {
                "name": self._name(str(ref.get("name", ""))),
                "namespace": event["metadata"]["namespace"],
            },
            "message": COMBINED + str(event.get("message", "")),
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
        }
        return combined, agg_key

    def _observe(self, event: Obj, key: tuple[str, ...]) -> tuple[Obj, Obj | None]:
        """eventLogger.eventObserve: a key seen before names the Event to patch, with the
        count, last timestamp and message that patch carries."""
        last = self._logs.get(key)
        patch = None
        if last is not None and last.count > 0:
            event = {
                **event,
                "metadata": {**event["metadata"], "name": last.name},
                "firstTimestamp": last.first_timestamp,
                "count": last.count + 1,
            }
            patch = {
                "count": event["count"],
                "lastTimestamp": event["lastTimestamp"],
                "message": event.get("message", ""),
            }
        self._logs.add(key, _log_of(event))
        return event, patch

    def _accept(self, event: Obj, now: float) -> bool:
        """EventSourceObjectSpamFilter.Filter, inverted: a token from the object's bucket."""
        key = _spam_key(event)
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        ok = bucket.try_accept(now, self.qps, self.burst)
        self._spam.add(key, bucket)
        return ok


def _log_of(event: Obj) -> _Log:
    return _Log(
        int(event.get("count") or 1),
        str(event.get("firstTimestamp", "")),
        str(event["metadata"]["name"]),
    )


# --- the recorder ------------------------------------------------------------------------

_correlators: weakref.WeakKeyDictionary[Registry, EventCorrelator] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_last_nanos = 0


def involved_ref(obj: Obj) -> Obj:
    """An ObjectReference to ``obj`` (``reference.GetReference``)."""
    meta = obj.get("metadata") or {}
    ref = {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


def _unique_name(registry: Registry) -> Callable[[str], str]:
    def name(obj_name: str) -> str:
        """``<object>.<hex nanos>``, unique even when the clock repeats (a fake one)."""
        global _last_nanos
        with _lock:
            _last_nanos = max(int(registry.clock() * 1e9), _last_nanos + 1)
            return f"{obj_name or 'unknown'}.{_last_nanos:x}"

    return name


def correlator(registry: Registry) -> EventCorrelator:
    """The registry's correlator (made on first use)."""
    with _lock:
        found = _correlators.get(registry)
        if found is None:
            found = _correlators[registry] = EventCorrelator(registry.clock, _unique_name(registry))
        return found


def make_event(
    registry: Registry,
    involved: Obj,
    type_: str,
    reason: str,
    message: str,
    component: str,
    *,
    field_path: str = "",
    host: str = "",
) -> Obj:
    """event.go makeEvent: a new Event about ``involved``, counted once."""
    ref = involved_ref(involved)
    if field_path:
        ref["fieldPath"] = field_path
    # Events about cluster-scoped objects (Nodes) go to "default" (event.go makeEvent).
    namespace = ref.get("namespace") or "default"
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    now = registry.now()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": _unique_name(registry)(str(ref.get("name", ""))),
            "namespace": namespace,
        },
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host,
    }


def record_event(
    registry: Registry,
    involved: Obj,
    type_: str,
    reason: str,
    message: str,
    component: str,
    *,
    field_path: str = "",
    host: str = "",
) -> Obj | None:
    """Record an Event as recordToSink does: correlated, then created or patched; the
    stored Event, or None when filtered or dropped."""
    assert EVENTS is not None
    event = make_event(
        registry, involved, type_, reason, message, component, field_path=field_path, host=host
    )
    corr = correlator(registry)
    result = corr.correlate(event)
    if result is None:
        return None
    ev = result.event
    ns, name = ev["metadata"]["namespace"], ev["metadata"]["name"]
    stored = None
    try:
        if result.patch is not None:
            try:
                stored = registry.patch(EVENTS, ns, name, STRATEGIC, json.dumps(result.patch))
            except ApiError as e:
                if e.code != 404:
                    raise
        if stored is None:  # new, or the one to patch is gone: create it (recordEvent)
            stored = registry.create(EVENTS, ns, {**ev, "metadata": dict(ev["metadata"])})
    except ApiError:
        return None
    corr.update_state(stored)
    return stored
