"""core/v1 Events, as client-go's event recorder writes them (``tools/record/event.go``,
``events_cache.go`` EventCorrelator): a repeat of the same event (same involved object,
type, reason, message and source) bumps ``count`` and ``lastTimestamp`` of the first
one instead of adding another; the rest are new Events named ``<object>.<hex nanos>``.

Called by the controllers and the kubelet through :func:`record_event`; an Event is
best-effort (a failed write is dropped, as the recorder drops it), so this never raises
for a namespace being deleted.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import by_kind

if TYPE_CHECKING:
    from podnet.apiserver.registry import Registry

Obj = dict[str, Any]
EVENTS = by_kind("", "Event")
_MAX_CACHE = 4096  # events_cache.go maxLruCacheEntries

# registry -> (aggregation key -> (namespace, event name)); weak so tests do not leak
_cache: weakref.WeakKeyDictionary[Registry, dict[tuple[str, ...], tuple[str, str]]]
_cache = weakref.WeakKeyDictionary()
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
    """Create the Event, or bump the matching one; the stored Event, or None if dropped."""
    assert EVENTS is not None
    ref = involved_ref(involved)
    if field_path:
        ref["fieldPath"] = field_path
    # Events about cluster-scoped objects (Nodes) go to "default" (event.go makeEvent).
    namespace = ref.get("namespace") or "default"
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    key = (
        namespace,
        ref.get("kind", ""),
        ref.get("name", ""),
        ref.get("uid", ""),
        field_path,
        type_,
        reason,
        message,
        component,
        host,
    )
    now = registry.now()
    with _lock:
        seen = _cache.setdefault(registry, {})
        known = seen.get(key)
    if known is not None:
        try:
            current = registry.get(EVENTS, known[0], known[1])
            bumped = {
                **current,
                "count": int(current.get("count") or 1) + 1,
                "lastTimestamp": now,
            }
            return registry.update(EVENTS, known[0], known[1], bumped)
        except ApiError:
            pass  # deleted or raced: record a fresh one
    global _last_nanos
    with _lock:  # unique even when the clock repeats (a fake one, or two calls in 1 ns)
        _last_nanos = max(int(registry.clock() * 1e9), _last_nanos + 1)
        nanos = _last_nanos
    name = f"{ref.get('name', 'unknown')}.{nanos:x}"
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
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
    try:
        stored = registry.create(EVENTS, namespace, event)
    except ApiError:
        return None
    with _lock:
        seen = _cache.setdefault(registry, {})
        if len(seen) >= _MAX_CACHE:
            seen.clear()
        seen[key] = (namespace, name)
    return stored
