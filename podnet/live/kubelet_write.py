"""The kubelet's writes to the API: pod status, Events, the static pod's mirror.

Status is written through the ``status`` subresource only when it differs from what
this kubelet wrote last (the status manager's ``needsUpdate``,
pkg/kubelet/status/status_manager.go); a conflict re-reads the pod and tries once
more, as ``syncPod`` there does with a fresh GET. Events go through
:func:`podnet.apiserver.events.record_event` with source component ``kubelet``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.events import record_event
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_kind
from podnet.live.kubelet_status import Obj, PodRecord
from podnet.model.objects import Pod

PODS = by_kind("", "Pod")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"  # pkg/kubelet/types/pod_update.go


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def newer(a: Obj, b: Obj) -> Obj:
    """Of two versions of one object, the one with the higher resourceVersion (a watch
    event may arrive after this kubelet's own later write returned)."""
    return b if _rv(b) >= _rv(a) else a


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
            obj = copy.deepcopy(rec.obj)
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace"), str(meta.get("name"))
        for attempt in range(2):
            obj["status"] = status
            try:
                out = registry.update(PODS, ns, name, obj, subresource="status")
            except ApiError as e:
                if e.code == 409 and attempt == 0:
                    try:
                        obj = copy.deepcopy(registry.get(PODS, ns, name))
                    except ApiError:
                        break
                    if (obj.get("metadata") or {}).get("uid") != rec.uid:
                        break  # another pod of that name now
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


def write_events(
    registry: Registry,
    events: Sequence[tuple[Obj, str, str, str]],
    warn: Callable[[str], None],
) -> None:
    """Record ``(involved, type, reason, message)`` as Events from the kubelet."""
    for involved, type_, reason, message in events:
        host = str((involved.get("spec") or {}).get("nodeName") or "")
        try:
            record_event(registry, involved, type_, reason, message, "kubelet", host=host)
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
