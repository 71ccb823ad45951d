"""ReplicaSets and ReplicationControllers (pkg/controller/replicaset/replica_set.go;
the RC controller is the same code over the older kind, pkg/controller/replication).

Pods are the ones the set controls (controller ownerReference by uid, indexed), so a
sync costs O(its own pods). Missing pods are created from the template in slow-start
batches of 1, 2, 4, ... (``slowStartBatch``), at most 500 per sync (``burstReplicas``);
surplus pods go newest and least ready first (``ActivePods`` ordering). Creates and
deletes not yet seen in the informer are expectations: a sync waits for them, so the
cache lagging behind never doubles a scale-up. Pods are claimed as ControllerRefManager
does: an orphan the selector takes is adopted, an owned pod it no longer takes (its
labels edited) is released and replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import (
    Controller,
    SyncCosts,
    by_namespace,
    condition,
    controller_ref,
    controller_uid,
    deleting,
    label_selector,
    labels,
    meta,
    name,
    namespace,
    owner_key,
    owner_reference,
    parse_time,
    pod_active,
    pod_available,
    pod_from_template,
    pod_phase,
    pod_ready,
    record_event,
    selector_matches,
    sync_cpu,
    uid,
)
from podnet.controllers.informer import Expectations, obj_key
from podnet.model.selectors import LabelSelector

PODS: Resource = by_kind("", "Pod")  # type: ignore[assignment]
REPLICASETS: Resource = by_kind("apps", "ReplicaSet")  # type: ignore[assignment]
RCS: Resource = by_kind("", "ReplicationController")  # type: ignore[assignment]
BURST_REPLICAS = 500
BATCH_PERIOD = 0.05
# A set's sync after a pod change waits at least BATCH_PERIOD and this many times what
# its last sync cost (it reads every pod of the set): base.SyncCosts.
SYNC_COST_FACTOR = 20.0
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _counted_fields(
    pod: Obj, label_view: Callable[[dict[str, str]], Any] = dict
) -> tuple[Any, ...]:
    """What a set's sync reads of a pod: its labels through ``label_view`` (for an owned
    pod, only whether the selector and the template's labels match them)."""
    ready = condition(pod, "Ready") or {}
    return (
        pod_phase(pod),
        ready.get("status"),
        ready.get("lastTransitionTime"),
        deleting(pod),
        label_view(labels(pod)),
        meta(pod).get("ownerReferences"),
    )


def orphan_namespace(pod: Obj) -> list[str]:
    """Index function: the namespace of a pod no controller owns."""
    return [] if controller_ref(pod) is not None else [namespace(pod)]


def spec_replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """controller.ActivePods Less: the pod to delete first sorts first (unassigned,
    then Pending < Unknown < Running, not ready, ready more recently, more restarts,
    created more recently)."""
    spec = pod.get("spec") or {}
    ready = pod_ready(pod)
    ready_since = 0.0
    if ready:
        ready_since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime")) or 0.0
    restarts = sum(
        int(c.get("restartCount") or 0)
        for c in (pod.get("status") or {}).get("containerStatuses") or ()
    )
    created = parse_time(meta(pod).get("creationTimestamp")) or 0.0
    return (
        bool(spec.get("nodeName")),
        _PHASE_RANK.get(pod_phase(pod), 0),
        ready,
        -ready_since,
        -restarts,
        -created,
        name(pod),
    )


def plan_replicas(
    want: int, active: Sequence[Obj], burst: int = BURST_REPLICAS
) -> tuple[int, list[Obj]]:
    """``manageReplicas``: how many pods to create, or which to delete."""
    diff = len(active) - want
    if diff < 0:
        return min(-diff, burst), []
    if diff > 0:
        return 0, sorted(active, key=deletion_rank)[: min(diff, burst)]
    return 0, []


def slow_start_batches(count: int, initial: int = 1) -> list[int]:
    """Batch sizes 1, 2, 4, ... summing to ``count`` (``slowStartBatch``)."""
    out, size = [], initial
    while count > 0:
        b = min(size, count)
        out.append(b)
        count -= b
        size *= 2
    return out


@dataclass(frozen=True, slots=True)
class PodView:
    """What a set's sync reads of one version of a pod, given the set's selector and
    template labels: worked out once per pod version (:class:`PodViews`), as the sync
    runs on every batch of pod changes and reads every pod of the set each time."""

    claimed: bool  # the selector takes its labels (ClaimPods)
    active: bool  # controller.IsPodActive
    labelled: bool  # it carries the template's labels (fullyLabeledReplicas)
    ready: bool  # podutil.IsPodReady
    deleting: bool
    namespace: str = ""  # the pod's (a set owns pods of its own namespace only)


def pod_view(
    pod: Obj, sel: LabelSelector | None, wanted: Sequence[tuple[str, str]] = ()
) -> PodView:
    pod_labels = labels(pod)
    return PodView(
        claimed=selector_matches(sel, pod_labels),
        active=pod_active(pod),
        labelled=all(pod_labels.get(k) == v for k, v in wanted),
        ready=pod_ready(pod),
        deleting=deleting(pod),
        namespace=namespace(pod),
    )


class PodViews:
    """A set's :class:`PodView` of each pod version, kept from one sync to the next.

    The informer replaces a pod's dict on every change and never mutates one, so the
    dict itself (held here, so its ``id`` is not reused) identifies the version: a pod
    unchanged since the last sync costs a dict lookup. A new selector or template
    labels start afresh."""

    def __init__(self) -> None:
        self._by_set: dict[str, tuple[Any, dict[int, tuple[Obj, PodView]]]] = {}

    def viewer(
        self, key: str, sel: LabelSelector | None, wanted: tuple[tuple[str, str], ...], sig: Any
    ) -> Callable[[Obj], PodView]:
        old_sig, old = self._by_set.get(key, (None, {}))
        if old_sig != sig:
            old = {}
        fresh: dict[int, tuple[Obj, PodView]] = {}
        self._by_set[key] = (sig, fresh)  # only the pods seen by this sync stay

        def view(pod: Obj) -> PodView:
            # Only ids and identities: a sync reads no pod dict it has seen before
            # (with a thousand pods, touching each one's memory is most of the cost).
            i = id(pod)
            hit = fresh.get(i)
            if hit is not None and hit[0] is pod:  # read again by this sync
                return hit[1]
            hit = old.get(i)
            if hit is None or hit[0] is not pod:
                hit = (pod, pod_view(pod, sel, wanted))
            fresh[i] = hit
            return hit[1]

        return view

    def forget(self, key: str) -> None:
        self._by_set.pop(key, None)


def replica_status(
    owner: Obj,
    pods: Sequence[Obj],
    now: float,
    template_labels: dict[str, str],
    view: Callable[[Obj], PodView] | None = None,
) -> dict[str, Any]:
    """calculateStatus: counts over the active pods it owns (``view``: a
    :meth:`PodViews.viewer` of the same template labels, else worked out here)."""
    spec = owner.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    replicas = labelled = ready = available = terminating = 0
    if view is None:
        wanted = tuple(template_labels.items())

        def view(pod: Obj) -> PodView:
            return pod_view(pod, None, wanted)

    for p in pods:  # one pass: this runs on every batch of pod changes
        v = view(p)
        terminating += v.deleting
        if not v.active:
            continue
        replicas += 1
        labelled += v.labelled
        if v.ready:
            ready += 1
            if min_ready <= 0 or pod_available(p, min_ready, now):
                available += 1
    status: dict[str, Any] = {
        "replicas": replicas,
        "fullyLabeledReplicas": labelled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": int(meta(owner).get("generation") or 1),
    }
    old_conditions = (owner.get("status") or {}).get("conditions")
    if old_conditions:
        status["conditions"] = old_conditions
    if "terminatingReplicas" in (owner.get("status") or {}):
        status["terminatingReplicas"] = terminating
    return status


# The status counters tagged ``omitempty`` in the Go types (k8s.io/api apps/v1, core/v1,
# batch/v1): kube-apiserver never stores them as 0, so clients read them as absent
# (the Python client's ``status.ready_replicas`` is None, not 0, on a real cluster).
_RS_OMITEMPTY = ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")
OMITEMPTY_STATUS = {
    "Deployment": (
        "observedGeneration",
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ),
    "ReplicaSet": _RS_OMITEMPTY,
    "ReplicationController": _RS_OMITEMPTY,
    "StatefulSet": (
        "observedGeneration",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "currentRevision",
        "updateRevision",
        # not collisionCount: a *int32 (omitempty drops only nil), which
        # stateful_set_control.go updateStatefulSet always sets, so it shows as 0
    ),
    "DaemonSet": (
        "observedGeneration",
        "updatedNumberScheduled",
        "numberAvailable",
        "numberUnavailable",
    ),
}


def omit_empty_status(kind: str, status: dict[str, Any]) -> dict[str, Any]:
    """``status`` as it goes on the wire: its ``omitempty`` zero counters dropped."""
    drop = OMITEMPTY_STATUS.get(kind, ())
    return {k: v for k, v in status.items() if not (k in drop and v in (0, ""))}


def same_status(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Zero counts are omitted on the wire (omitempty), so absent equals 0."""
    keys = set(old) | set(new)
    return all((old.get(k) or 0) == (new.get(k) or 0) for k in keys)


class ReplicaSetController(Controller):
    """One controller per kind: ``res`` is ReplicaSets or ReplicationControllers."""

    def __init__(
        self, registry: Any, informers: Any, *, res: Resource = REPLICASETS, **kw: Any
    ) -> None:
        super().__init__(registry, informers, **kw)
        self.res = res
        self.name = "replicaset" if res.kind == "ReplicaSet" else "replicationcontroller"
        self.expectations = Expectations()
        self.views = PodViews()
        self.sync_costs = SyncCosts(BATCH_PERIOD, SYNC_COST_FACTOR)
        self._managing = 0.0  # CPU seconds the running sync spent creating/deleting pods

    def setup(self) -> None:
        self.sets = self.informers.get(self.res)
        self.pods = self.informers.get(PODS)
        self.pods.add_index("controller", controller_uid)
        self.pods.add_index("orphan", orphan_namespace)
        self.sets.add_index("namespace", by_namespace)
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)

    def _on_set(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        key = obj_key(new)
        if type_ == "DELETED":
            self.expectations.forget(key)
        self.queue.add(key)

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        owner = owner_key(new, self.res)
        if type_ == "ADDED":
            if owner is not None:
                if deleting(new):
                    self.expectations.observed_delete(owner, obj_key(new))
                else:
                    self.expectations.observed_add(owner)
        elif type_ == "DELETED":
            if owner is not None:
                self.expectations.observed_delete(owner, obj_key(new))
        else:
            assert old is not None
            if owner is not None and deleting(new) and not deleting(old):
                self.expectations.observed_delete(owner, obj_key(new))
            old_owner = owner_key(old, self.res)
            if old_owner is not None and old_owner != owner:
                self.queue.add(old_owner)
            view = self._label_view(owner)
            if _counted_fields(old, view) == _counted_fields(new, view):
                return  # nothing the set counts or claims by changed (e.g. containerStatuses)
        if owner is not None:
            # pod changes within the batch period make one sync (it reads all the set's pods)
            self.queue.add_after(owner, self.sync_costs.delay(owner))
        elif type_ != "DELETED" and controller_ref(new) is None and not deleting(new):
            # an orphan: every set whose selector takes it may adopt it (getPodReplicaSets)
            for rs in self.sets.by_index("namespace", namespace(new)):
                if selector_matches(self.selector(rs), labels(new)):
                    self.queue.add(obj_key(rs))

    def _label_view(self, owner: str | None) -> Callable[[dict[str, str]], Any]:
        """What a sync of ``owner`` reads of a pod's labels: whether its selector takes
        them (claim) and whether they carry the template's labels
        (fullyLabeledReplicas). A label edit that changes neither (``kubectl label``
        of something else) then queues no sync that would find nothing to do; the
        labels whole when the owner is not (yet) in the cache."""
        rs = self.sets.get(owner) if owner is not None else None
        if rs is None:
            return dict
        sel = self.selector(rs)
        spec = rs.get("spec") or {}
        wanted = (((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}).items()

        def view(pod_labels: dict[str, str]) -> tuple[bool, bool]:
            return (
                selector_matches(sel, pod_labels),
                all(pod_labels.get(k) == v for k, v in wanted),
            )

        return view

    def selector(self, rs: Obj) -> LabelSelector | None:
        """A ReplicaSet's LabelSelector; a ReplicationController's plain map (its
        template's labels when empty, as the RC defaulting does)."""
        spec = rs.get("spec") or {}
        if self.res.kind == "ReplicaSet":
            return label_selector(spec.get("selector"))
        plain = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get(
            "labels"
        )
        return LabelSelector.from_labels(plain) if plain else None

    def claim(
        self, rs: Obj, owned: list[Obj], view: Callable[[Obj], PodView] | None = None
    ) -> list[Obj]:
        """ControllerRefManager.ClaimPods: release owned pods the selector no longer
        takes, adopt orphans it does (neither while the set is being deleted)."""
        sel = self.selector(rs)
        if view is None:

            def view(pod: Obj) -> PodView:
                return pod_view(pod, sel)

        mine: list[Obj] = []
        for pod in owned:
            v = view(pod)
            if v.claimed or v.deleting:
                mine.append(pod)
            else:
                self._set_owner(pod, None, uid(rs))
        for pod in self.pods.by_index("orphan", namespace(rs)):
            if deleting(pod) or not selector_matches(sel, labels(pod)):
                continue
            mine.append(self._set_owner(pod, owner_reference(rs, self.res), ""))
        return mine

    def _set_owner(self, pod: Obj, ref: dict[str, Any] | None, drop_uid: str) -> Obj:
        fresh = copy.deepcopy(pod)
        refs = [r for r in meta(pod).get("ownerReferences") or () if r.get("uid") != drop_uid]
        if ref is not None:
            refs.append(ref)
        if refs:
            fresh["metadata"]["ownerReferences"] = refs
        else:
            fresh["metadata"].pop("ownerReferences", None)
        out: Obj = self.registry.update(PODS, namespace(pod), name(pod), fresh)
        return out

    def sync(self, key: str) -> None:
        rs = self.sets.get(key)
        if rs is None:
            self.expectations.forget(key)
            self.views.forget(key)
            self.sync_costs.forget(key)
            return
        started = sync_cpu()
        self._managing = 0.0
        try:
            self._sync(key, rs)
        finally:
            # what reading the set's pods cost, not its creates and deletes: a
            # scale-up's next batch must not wait for what the last one cost
            self.sync_costs.record(key, sync_cpu() - started - self._managing)

    def _sync(self, key: str, rs: Obj) -> None:
        # Expectations before the pods are read (replica_set.go syncReplicaSet, as the
        # daemon set and job controllers): the other order lets a create observed in
        # between count as seen but not be in the list read before it, and be made twice.
        satisfied = self.expectations.satisfied(key)
        ns = namespace(rs)
        spec = rs.get("spec") or {}
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        wanted = tuple(tlabels.items())
        view = self.views.viewer(
            key, self.selector(rs), wanted, (repr(spec.get("selector")), wanted)
        )
        pods = [
            p
            for p in self.pods.by_index("controller", meta(rs).get("uid", ""))
            if view(p).namespace == ns
        ]
        if not deleting(rs):
            pods = self.claim(rs, pods, view)
        if satisfied and not deleting(rs):
            started = sync_cpu()
            try:
                self._manage(key, rs, [p for p in pods if view(p).active])
            finally:
                self._managing = sync_cpu() - started
        self._update_status(rs, pods, view)

    def _manage(self, key: str, rs: Obj, active: list[Obj]) -> None:
        create, delete = plan_replicas(spec_replicas(rs), active)
        component = f"{self.name}-controller"
        if create:
            self.expectations.expect(key, adds=create)
            template = (rs.get("spec") or {}).get("template") or {}
            created = 0
            try:
                for batch in slow_start_batches(create):
                    for _ in range(batch):
                        pod = pod_from_template(
                            template, rs, self.res, generate_name=f"{name(rs)}-"
                        )
                        out = self.registry.create(PODS, namespace(rs), pod)
                        created += 1
                        record_event(
                            self.registry,
                            rs,
                            "Normal",
                            "SuccessfulCreate",
                            f"Created pod: {name(out)}",
                            component,
                        )
            except ApiError as e:
                for _ in range(create - created):  # never coming: lower the expectation
                    self.expectations.observed_add(key)
                record_event(self.registry, rs, "Warning", "FailedCreate", e.message, component)
                raise
        if delete:
            self.expectations.expect(key, deletes=[obj_key(p) for p in delete])
            for pod in delete:
                try:
                    self.registry.delete(PODS, namespace(pod), name(pod))
                except ApiError as e:
                    if e.code != 404:
                        self.expectations.observed_delete(key, obj_key(pod))
                        raise
                    self.expectations.observed_delete(key, obj_key(pod))
                record_event(
                    self.registry,
                    rs,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted pod: {name(pod)}",
                    component,
                )

    def _update_status(
        self, rs: Obj, pods: list[Obj], view: Callable[[Obj], PodView] | None = None
    ) -> None:
        spec = rs.get("spec") or {}
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        now = self.clock()
        status = replica_status(rs, pods, now, tlabels, view)
        min_ready = int(spec.get("minReadySeconds") or 0)
        if min_ready > 0 and status["readyReplicas"] > status["availableReplicas"]:
            self.queue.add_after(obj_key(rs), 1.0)  # re-check when they become available
        if same_status(rs.get("status") or {}, status):
            return
        fresh = copy.copy(rs)
        fresh["status"] = omit_empty_status(self.res.kind, status)
        self.registry.update(self.res, namespace(rs), name(rs), fresh, subresource="status")
