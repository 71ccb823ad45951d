"""Ephemeral containers (``kubectl debug``) in a running pod, as kubelet starts them.

pkg/kubelet/kuberuntime/kuberuntime_manager.go ``computePodActions``: every ephemeral
container of the spec that has no status yet is started in the running pod, once; an
ephemeral container is never restarted and never stopped before the pod is (core/v1
types.go ``EphemeralContainer``). Its image is had as an app container's (the pull
policy, a pull from a registry off the sync loop); one that cannot be had, or fails to
start, waits with the reason in ``ephemeralContainerStatuses``.

``targetContainerName`` (``kubectl debug --target``): the container joins the target's
PID namespace, as upstream's (kuberuntime_container.go: ``NamespaceMode_TARGET``), so
the target's processes are visible to it; in a pod with ``shareProcessNamespace`` the
pod's one PID namespace is joined anyway.
"""

from __future__ import annotations

import threading
from typing import Any

from podnet.errors import ImageError, PodnetError
from podnet.live.kubelet_status import EventTuple, PodRecord, image_events
from podnet.manifests.convert import to_container
from podnet.manifests.report import DocContext
from podnet.model.objects import Container

Obj = dict[str, Any]


def pending(rec: PodRecord) -> list[tuple[Container, str | None]]:
    """The ephemeral containers of the pod's spec not taken for start yet, each with
    its ``imagePullPolicy``, in spec order."""
    taken = {c.name for c in rec.ephemeral}
    spec = rec.obj.get("spec") or {}
    out: list[tuple[Container, str | None]] = []
    for i, c in enumerate(spec.get("ephemeralContainers") or ()):
        if not isinstance(c, dict) or c.get("name") in taken:
            continue
        ctx = DocContext(rec.obj, None, None)
        out.append(
            (to_container(ctx, ("spec", "ephemeralContainers", i), c), c.get("imagePullPolicy"))
        )
    return out


def start(
    runtime: Any,
    rec: PodRecord,
    container: Container,
    policy: str | None,
    start_lock: threading.Lock,
) -> list[EventTuple]:
    """Have ``container``'s image (may pull: not on the sync loop) and start it in the
    pod, under ``start_lock`` (the kubelet's: no kill begins meanwhile); the Events of
    a failure, which is also kept in ``rec.ephemeral_errors``."""
    try:
        runtime.images.resolve(container.image, policy)
    except ImageError as e:
        reason = getattr(e, "reason", "ErrImagePull")
        rec.ephemeral_errors[container.name] = (reason, str(e))
        return image_events(container.image, reason, str(e))
    try:
        with start_lock:
            if rec.terminating:
                return []
            runtime.add_ephemeral(rec.pod.key, container, _target(rec, container.name))
    except PodnetError as e:  # kuberuntime_container.go startContainer: RunContainerError
        rec.ephemeral_errors[container.name] = ("RunContainerError", str(e))
        return [("Warning", "Failed", f"Error: {e}")]
    return []


def _target(rec: PodRecord, name: str) -> str | None:
    """The ``targetContainerName`` of the ephemeral container ``name`` in the spec."""
    for c in (rec.obj.get("spec") or {}).get("ephemeralContainers") or ():
        if isinstance(c, dict) and c.get("name") == name:
            target = c.get("targetContainerName")
            return target if isinstance(target, str) and target else None
    return None
