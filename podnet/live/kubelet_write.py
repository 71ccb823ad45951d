"""The kubelet's writes to the API: pod status, Events, the final delete, the static
pod's mirror.

Status is written through the ``status`` subresource only when it differs from what
this kubelet wrote last (the status manager's ``needsUpdate``,
pkg/kubelet/status/status_manager.go); a conflict re-reads the pod and tries once
more, as ``syncPod`` there does with a fresh GET. Events go through
:func:`podnet.apiserver.events.record_event` with source component ``kubelet`` and the
node as host, so client-go's EventCorrelator turns a pod's repeated BackOff or
Unhealthy into one Event with a count, and stops at 25 per pod (then one per 5 min).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.events import record_event
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.dataplane.runtime.state import PodStatus
from podnet.live.kubelet_status import Obj, PodRecord
from podnet.model.objects import Pod

PODS = by_kind("", "Pod")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"  # pkg/kubelet/types/pod_update.go
STATUS_BATCH = 0.05  # seconds the status writer lets changes gather (coalescing)
Warn = Callable[[str], None]


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def newer(a: Obj, b: Obj) -> Obj:
    """Of two versions of one object, the one with the higher resourceVersion (a watch
    event may arrive after this kubelet's own later write returned)."""
    return b if _rv(b) >= _rv(a) else a


def status_body(pod: Obj, status: Obj) -> Obj:
    """The ``pods/status`` PUT body: the pod's metadata as this kubelet last saw it (its
    resourceVersion makes the write a compare-and-swap; a status write takes labels and
    annotations from the body, podStatusStrategy resetting only spec and
    ownerReferences, so they must be the stored ones) and the new status. The pod is
    not copied: the registry keeps metadata values equal to the stored ones as they are
    and reads the rest into copies of its own."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod.get("metadata") or {},
        "status": status,
    }


def write_statuses(
    registry: Registry,
    recs: Sequence[PodRecord],
    lock: threading.RLock,
    warn: Callable[[str], None],
) -> int:
    """Write each changed status; how many were written."""
    assert PODS is not None
    written = 0
    for rec in recs:
        with lock:
            status = rec.api_status()
            if status == rec.written:
                continue
            body = status_body(rec.obj, status)
        meta = body["metadata"]
        ns, name = meta.get("namespace"), str(meta.get("name"))
        for attempt in range(2):
            try:
                out = registry.update(PODS, ns, name, body, subresource="status")
            except ApiError as e:
                if e.code == 409 and attempt == 0:
                    try:
                        fresh = registry.get(PODS, ns, name)
                    except ApiError:
                        break
                    if (fresh.get("metadata") or {}).get("uid") != rec.uid:
                        break  # another pod of that name now
                    body = status_body(fresh, status)
                    continue
                if e.code != 404:
                    warn(f"status of pod {ns}/{name}: {e}")
                break
            with lock:
                rec.written = status
                rec.obj = newer(rec.obj, out)
            written += 1
            break
    return written


# (involved, type, reason, message, fieldPath: "" for an Event about the whole pod)
KubeletEvent = tuple[Obj, str, str, str, str]


def write_events(
    registry: Registry,
    events: Sequence[KubeletEvent],
    warn: Callable[[str], None],
) -> None:
    """Record ``(involved, type, reason, message, fieldPath)`` as Events from the
    kubelet (a container's on its ``spec.containers{name}`` ref, pkg/kubelet/container/
    ref.go)."""
    for involved, type_, reason, message, path in events:
        host = str((involved.get("spec") or {}).get("nodeName") or "")
        try:
            record_event(
                registry,
                involved,
                type_,
                reason,
                message,
                "kubelet",
                field_path=path,
                host=host,
            )
        except (ApiError, ValueError, KeyError) as e:
            warn(f"event {reason}: {e}")


def mirror_pod(pod: Pod) -> Obj:
    """The API object of a static pod (kubelet's mirror pod: annotated, bound to its
    node, read-only in spirit)."""
    containers: list[dict[str, Any]] = []
    for c in pod.containers:
        out: dict[str, Any] = {"name": c.name, "image": c.image}
        if c.ports:
            out["ports"] = [
                {"containerPort": p.container_port, "protocol": p.protocol}
                | ({"name": p.name} if p.name else {})
                for p in c.ports
            ]
        containers.append(out)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": dict(pod.labels),
            "annotations": {
                MIRROR_ANNOTATION: "podnet",
                "kubernetes.io/config.source": "file",
            },
        },
        "spec": {
            "nodeName": pod.node,
            "containers": containers,
            "priorityClassName": "system-cluster-critical",
        },
    }


def final_delete(registry: Registry, obj: Obj) -> None:
    """The kubelet's last word on a pod it has stopped: delete it now (grace 0), only
    if it is still that pod (uid precondition)."""
    assert PODS is not None
    meta = obj.get("metadata") or {}
    with contextlib.suppress(ApiError):
        registry.delete(
            PODS,
            meta.get("namespace"),
            str(meta.get("name")),
            grace_period=0,
            preconditions={"uid": str(meta.get("uid"))},
        )


def sync_mirror(registry: Registry, rec: PodRecord, obj: Obj | None, warn: Warn) -> bool:
    """The static pod ``rec``'s mirror as seen in the store (``obj``; None: gone).
    Deleted or being deleted: it is created again, as kubelet recreates a mirror pod
    (pod/mirror_client.go). Whether its status must be written again."""
    assert PODS is not None
    if obj is not None and not (obj.get("metadata") or {}).get("deletionTimestamp"):
        rec.obj = newer(rec.obj, obj)
        return True
    if obj is not None:
        final_delete(registry, obj)
    try:
        rec.obj = registry.create(PODS, rec.pod.namespace, mirror_pod(rec.pod))
    except ApiError as e:
        if e.code != 409:
            warn(f"mirror pod {rec.pod.key}: {e}")
        return False
    rec.written = None
    return True


class StatusManager:
    """kubelet's status manager: the runtime's status changes are recorded (and turned
    into Events) in the runtime's thread; one thread of its own writes, every
    :data:`STATUS_BATCH` seconds at most, each changed pod's status once and the Events
    gathered meanwhile, so a thousand pods starting make a thousand writes, not one per
    container transition."""

    def __init__(
        self,
        registry: Registry,
        lock: threading.RLock,
        lookup: Callable[[str], PodRecord | None],
        warn: Warn,
    ) -> None:
        self.registry, self._lock, self._lookup, self._warn = registry, lock, lookup, warn
        self._dirty: set[str] = set()
        self._events: list[KubeletEvent] = []
        self._wake = threading.Event()
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="kubelet-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def observe(self, status: PodStatus) -> None:
        """The runtime's status callback (its thread): record, queue Events, wake."""
        with self._lock:
            rec = self._lookup(status.key)
            if rec is None:
                return
            self._events += [(rec.obj, *e) for e in rec.observe(status)]
            self._dirty.add(status.key)
        self._wake.set()

    def dirty(self, key: str) -> None:
        with self._lock:
            self._dirty.add(key)
        self._wake.set()

    def event(self, obj: Obj, type_: str, reason: str, message: str, path: str = "") -> None:
        """Queue an Event about ``obj``; ``path``: the container's fieldPath
        (:meth:`PodRecord.field_path`) when it is about one container."""
        with self._lock:
            self._events.append((obj, type_, reason, message, path))
        self._wake.set()

    def _loop(self) -> None:
        while self._running:
            self._wake.wait(0.5)
            if self._running:  # stopping: write what is left at once
                time.sleep(STATUS_BATCH)  # let a burst of changes gather
            self._wake.clear()
            with self._lock:
                keys, self._dirty = self._dirty, set()
                events, self._events = self._events, []
                recs = [r for k in keys if (r := self._lookup(k)) is not None]
            write_statuses(self.registry, recs, self._lock, self._warn)
            write_events(self.registry, events, self._warn)
