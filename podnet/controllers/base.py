"""What every controller shares: a worker over a :class:`WorkQueue`, errors retried with
back-off, and the object helpers the workload controllers all need
(pkg/controller/controller_utils.go, k8s.io/kubernetes/pkg/api/v1/pod/util.go).
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from podnet.apiserver import events
from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_api_version
from podnet.apiserver.store.base import Obj
from podnet.controllers.informer import Expectations, Informers, WorkQueue, obj_key
from podnet.model.selectors import LabelSelector, Requirement

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Controller:
    """A reconcile loop: handlers queue keys, one worker thread calls :meth:`sync`.

    ``sync`` raising an :class:`ApiError` 409 (Conflict, AlreadyExists) requeues quietly
    (the cache will catch up); anything else is logged. Both retry with the key's
    exponential back-off, 5 ms doubling (controller.go ``handleErr``), so a conflict
    retries at once in practice and a persistent one cannot spin; a clean sync forgets
    the key's failures.
    """

    name = "controller"

    def __init__(self, registry: Any, informers: Informers, *, clock: Clock = time.time) -> None:
        self.registry = registry
        self.informers = informers
        self.clock = clock
        self.queue = WorkQueue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def setup(self) -> None:
        """Register informers and handlers (before the informers start)."""

    def prepare(self) -> None:
        """Run once, after the informers synced, before the first key (e.g. create
        the objects that must exist at start)."""

    def sync(self, key: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.shut_down()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        if not self.informers.wait_synced(30.0):
            log.warning("%s: informers not synced, starting anyway", self.name)
        try:
            self.prepare()
        except Exception:
            log.exception("%s: prepare failed", self.name)
        while not self._stop.is_set():
            key = self.queue.get(5.0)  # shut_down wakes it at once
            if key is None:
                continue
            try:
                self.process(key)
            finally:
                self.queue.done(key)

    def process(self, key: str) -> None:
        """One key, with the retry policy (also called directly by tests)."""
        try:
            self.sync(key)
        except ApiError as e:
            if e.code == 409:  # Conflict / AlreadyExists: the cache lags; look again
                self.queue.add_rate_limited(key)
                return
            delay = self.queue.add_rate_limited(key)
            log.warning("%s: sync %s: %s (retry in %.3fs)", self.name, key, e.message, delay)
            return
        except Exception:
            delay = self.queue.add_rate_limited(key)
            log.exception("%s: sync %s failed (retry in %.3fs)", self.name, key, delay)
            return
        self.queue.forget(key)


class _CollectorTime(threading.local):
    """CPU seconds this thread spent in the cyclic garbage collector: a full collection
    walks the whole heap (a tenth of a second and more once a thousand pods and their
    versions in the watch log are in it) in whichever thread's allocation set it off,
    which is not what that thread's sync cost."""

    def __init__(self) -> None:
        self.total = 0.0
        self.started = 0.0


_collector = _CollectorTime()


def _on_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collector.started = time.thread_time()
    else:
        _collector.total += time.thread_time() - _collector.started


gc.callbacks.append(_on_collection)


def sync_cpu() -> float:
    """This thread's CPU seconds less its garbage collections (:class:`SyncCosts`)."""
    return time.thread_time() - _collector.total


class SyncCosts:
    """Per key, what its last sync cost (CPU seconds of the worker thread, garbage
    collections left out: :func:`sync_cpu`), and how long
    a change waits before it queues that key: at least ``period`` (the batch period,
    as the EndpointSlice controller's ``endpointUpdatesBatchPeriod``), and at least
    ``factor`` times that cost. A sync that reads every pod of a big set, or rewrites
    a big object, then takes a bounded share of the time while its pods keep changing
    (1/factor), however often they change; a small one keeps ``period``. Never more
    than ``max_delay``."""

    def __init__(self, period: float, factor: float, max_delay: float = 1.0) -> None:
        self.period, self.factor, self.max_delay = period, factor, max_delay
        self._cost: dict[str, float] = {}

    def delay(self, key: str) -> float:
        return min(self.max_delay, max(self.period, self.factor * self._cost.get(key, 0.0)))

    def cost(self, key: str) -> float | None:
        return self._cost.get(key)

    def record(self, key: str, seconds: float) -> None:
        self._cost[key] = seconds

    def measure(self, key: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` (the sync) and keep what it cost, also when it raises."""
        started = sync_cpu()
        try:
            fn()
        finally:
            self._cost[key] = sync_cpu() - started

    def forget(self, key: str) -> None:
        self._cost.pop(key, None)


# -- time ------------------------------------------------------------------------------


def rfc3339(t: float) -> str:
    """metav1.Time on the wire: seconds, UTC, ``Z``."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


# -- metadata --------------------------------------------------------------------------


def meta(obj: Obj) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def uid(obj: Obj) -> str:
    return str(meta(obj).get("uid", ""))


def name(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace", "") or "")


def labels(obj: Obj) -> dict[str, str]:
    lab = meta(obj).get("labels")
    return lab if isinstance(lab, dict) else {}


def deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def owner_reference(owner: Obj, res: Resource) -> dict[str, Any]:
    """The controller reference a workload puts on what it creates
    (metav1.NewControllerRef: controller and blockOwnerDeletion true)."""
    return {
        "apiVersion": res.group_version,
        "kind": res.kind,
        "name": name(owner),
        "uid": uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    """metav1.GetControllerOf."""
    for ref in meta(obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def controller_uid(obj: Obj) -> list[str]:
    """Index function: the uid of the object's controller, if any."""
    ref = controller_ref(obj)
    return [str(ref.get("uid", ""))] if ref else []


def owner_key(obj: Obj, res: Resource) -> str | None:
    """``namespace/name`` of the object's controller when it is a ``res``."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != res.kind:
        return None
    if by_api_version(str(ref.get("apiVersion", "")), res.kind) != res:
        return None
    return f"{namespace(obj)}/{ref.get('name', '')}"


def by_namespace(obj: Obj) -> list[str]:
    return [namespace(obj)]


# -- selectors ---------------------------------------------------------------------------


def label_selector(sel: Mapping[str, Any] | None) -> LabelSelector | None:
    """A metav1.LabelSelector dict; None when absent (matches nothing, as
    LabelSelectorAsSelector of nil)."""
    if sel is None:
        return None
    ml = sel.get("matchLabels") or {}
    exprs = tuple(
        Requirement(str(e.get("key", "")), str(e.get("operator", "")), tuple(e.get("values") or ()))
        for e in sel.get("matchExpressions") or ()
    )
    return LabelSelector(tuple(sorted(ml.items())), exprs)


def selector_matches(sel: LabelSelector | None, obj_labels: Mapping[str, str]) -> bool:
    if sel is None:
        return False
    try:
        return sel.matches(obj_labels)
    except ValueError:
        return False


# -- pods -------------------------------------------------------------------------------


def pod_phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def condition(obj: Obj, type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def pod_ready(pod: Obj) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def pod_active(pod: Obj) -> bool:
    """controller.IsPodActive: not Succeeded or Failed, and not being deleted."""
    return pod_phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


def pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: ready for at least minReadySeconds."""
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def pod_from_template(
    template: Mapping[str, Any], owner: Obj, res: Resource, *, generate_name: str
) -> Obj:
    """controller_utils.go GetPodFromTemplate: labels, annotations and finalizers of the
    template, ``generateName`` and the controller reference; the spec copied."""
    tmeta = template.get("metadata") or {}
    md: dict[str, Any] = {
        "generateName": generate_name,
        "namespace": namespace(owner),
        "ownerReferences": [owner_reference(owner, res)],
    }
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            md[field] = copy.deepcopy(tmeta[field])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        scaled = pct * total
        return -(-scaled // 100) if round_up else scaled // 100
    return int(text)


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    update_time: bool = False,
) -> list[dict[str, Any]]:
    """A new list with ``type_`` set; lastTransitionTime kept unless the status changes
    (as every controller's SetCondition does)."""
    out = [dict(c) for c in conditions if c.get("type") != type_]
    old = next((c for c in conditions if c.get("type") == type_), None)
    cond: dict[str, Any] = {"type": type_, "status": status}
    if update_time:
        same = old is not None and old.get("reason") == reason and old.get("status") == status
        cond["lastUpdateTime"] = old.get("lastUpdateTime", now) if same and old else now
    cond["lastTransitionTime"] = (
        old.get("lastTransitionTime", now)
        if old is not None and old.get("status") == status
        else now
    )
    cond["reason"] = reason
    cond["message"] = message
    out.append(cond)
    return out


# -- hashing ---------------------------------------------------------------------------

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery/pkg/util/rand


def fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped into the vowel-free alphabet."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """controller.ComputeHash: fnv32a over the template (upstream deep-hashes the Go
    struct's printed form; here its canonical JSON), then the collision count as 8
    little-endian bytes, printed in decimal and safe-encoded."""
    h = fnv32a(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\0" * 4, h)
    return safe_encode(str(h))


def record_event(
    registry: Any, involved: Obj, type_: str, reason: str, message: str, component: str
) -> None:
    """An Event about ``involved``, through client-go's EventCorrelator
    (podnet/apiserver/events.py, tools/record/events_cache.go: a scale-up's 1,000
    SuccessfulCreate become 9 Events and one combined, counted one); never fails the
    sync that reports it, as client-go's EventRecorder drops what it cannot write."""
    try:
        events.record_event(registry, involved, type_, reason, message, component)
    except Exception:
        log.debug("event %s %s not recorded", reason, message, exc_info=True)


def track_owned_pod(
    expectations: Expectations,
    queue: WorkQueue,
    res: Resource,
    type_: str,
    old: Obj | None,
    new: Obj,
) -> None:
    """A pod event for a controller of ``res`` (StatefulSet, DaemonSet, Job): count it
    against the owner's expectations (a create seen, a delete begun or done) and queue
    the owner, as their addPod/updatePod/deletePod handlers do."""
    owner = owner_key(new, res)
    if owner is None:
        return
    if type_ == "ADDED":
        expectations.observed_add(owner)
    elif type_ == "DELETED" or (old is not None and deleting(new) and not deleting(old)):
        expectations.observed_delete(owner, obj_key(new))
    queue.add(owner)
