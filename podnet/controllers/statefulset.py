"""StatefulSets (pkg/controller/statefulset/stateful_set_control.go, stateful_set_utils.go).

Pods ``<name>-<ordinal>`` with a stable hostname (``spec.hostname``) under the governing
Service (``spec.subdomain = serviceName``), labelled with their pod name, index and the
``controller-revision-hash`` of the template they were made from. OrderedReady creates
one ordinal at a time, the next only once every lower one is Running and Ready, and
removes from the highest ordinal, one at a time; Parallel does both at once. A
RollingUpdate replaces pods of an older revision from the highest ordinal down to
``partition``, one at a time once all are ready. Failed pods are deleted and made again.
Revisions are named in the labels only; no ControllerRevision objects are written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import (
    Controller,
    controller_uid,
    deleting,
    labels,
    meta,
    name,
    namespace,
    owner_key,
    pod_available,
    pod_from_template,
    pod_phase,
    pod_ready,
    record_event,
    track_owned_pod,
    uid,
)
from podnet.controllers.history import (
    REVISIONS,
    ensure_revision,
    revision_hash,
    stale_revisions,
    template_patch,
)
from podnet.controllers.informer import Expectations, obj_key
from podnet.controllers.replicaset import PODS, omit_empty_status, same_status, spec_replicas

STATEFULSETS: Resource = by_kind("apps", "StatefulSet")  # type: ignore[assignment]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
COMPONENT = "statefulset-controller"


def revision_data(sts: Obj) -> Obj:
    return template_patch((sts.get("spec") or {}).get("template") or {})


def revision_hash_of(sts: Obj) -> str:
    count = int((sts.get("status") or {}).get("collisionCount") or 0)  # never nil here
    return revision_hash(revision_data(sts), count)


def revision_name(sts: Obj) -> str:
    """``<name>-<hash>``: the ControllerRevision's name, also the pods' label value."""
    return f"{name(sts)}-{revision_hash_of(sts)}"


def ordinal(sts_name: str, pod_name: str) -> int | None:
    m = re.fullmatch(re.escape(sts_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def new_pod(sts: Obj, i: int, revision: str) -> Obj:
    """newVersionedStatefulSetPod: identity, labels, hostname/subdomain."""
    spec = sts.get("spec") or {}
    pod = pod_from_template(spec.get("template") or {}, sts, STATEFULSETS, generate_name="")
    pod_name = f"{name(sts)}-{i}"
    md = pod["metadata"]
    del md["generateName"]
    md["name"] = pod_name
    md.setdefault("labels", {}).update(
        {POD_NAME_LABEL: pod_name, POD_INDEX_LABEL: str(i), REVISION_LABEL: revision}
    )
    pod["spec"]["hostname"] = pod_name
    if spec.get("serviceName"):
        pod["spec"]["subdomain"] = spec["serviceName"]
    return pod


def running_and_ready(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and pod_ready(pod) and not deleting(pod)


@dataclass
class StsPlan:
    create: list[int] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


def plan_statefulset(sts: Obj, pods: Mapping[int, Obj], revision: str) -> StsPlan:
    """One step of the StatefulSet state machine (stateful_set_control.go
    updateStatefulSet): in OrderedReady mode stop at the first pod not yet Running and
    Ready; then condemn ordinals >= replicas from the highest; then roll updates."""
    spec = sts.get("spec") or {}
    replicas = spec_replicas(sts)
    parallel = spec.get("podManagementPolicy") == "Parallel"
    plan = StsPlan()
    for i in range(replicas):
        pod = pods.get(i)
        if pod is None:
            plan.create.append(i)
            if not parallel:
                return plan
            continue
        if pod_phase(pod) == "Failed" and not deleting(pod):
            plan.delete.append(name(pod))  # recreated on a later pass
            if not parallel:
                return plan
            continue
        if not parallel and not running_and_ready(pod):
            return plan
    condemned = sorted((i for i in pods if i >= replicas), reverse=True)
    for i in condemned:
        pod = pods[i]
        if deleting(pod):
            if not parallel:
                return plan
            continue
        plan.delete.append(name(pod))
        if not parallel:
            return plan
    if plan.create or plan.delete:
        return plan
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return plan
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    if not all(running_and_ready(pods[i]) for i in range(replicas) if i in pods):
        return plan
    for i in range(replicas - 1, partition - 1, -1):
        pod = pods.get(i)
        if pod is not None and labels(pod).get(REVISION_LABEL) != revision:
            plan.delete.append(name(pod))
            return plan
    return plan


def statefulset_status(sts: Obj, pods: Sequence[Obj], revision: str, now: float) -> dict[str, Any]:
    spec = sts.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    live = [p for p in pods if not deleting(p)]
    old = sts.get("status") or {}
    updated = sum(1 for p in live if labels(p).get(REVISION_LABEL) == revision)
    current_rev = old.get("currentRevision") or revision
    if updated == len(live) == spec_replicas(sts):
        current_rev = revision  # the rollout is complete
    return {
        "observedGeneration": int(meta(sts).get("generation") or 1),
        "replicas": len(live),
        "readyReplicas": sum(1 for p in live if pod_ready(p)),
        "availableReplicas": sum(1 for p in live if pod_available(p, min_ready, now)),
        "currentReplicas": sum(1 for p in live if labels(p).get(REVISION_LABEL) == current_rev),
        "updatedReplicas": updated,
        "currentRevision": current_rev,
        "updateRevision": revision,
        "collisionCount": int(old.get("collisionCount") or 0),
    }


class StatefulSetController(Controller):
    name = "statefulset"

    def setup(self) -> None:
        self.sets = self.informers.get(STATEFULSETS)
        self.pods = self.informers.get(PODS)
        self.revisions = self.informers.get(REVISIONS)
        self.pods.add_index("controller", controller_uid)
        self.revisions.add_index("controller", controller_uid)
        self.expectations = Expectations()
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)
        self.revisions.add_handler(self._on_revision)

    def _on_revision(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        owner = owner_key(new, STATEFULSETS)
        if owner is not None and type_ == "DELETED":
            self.queue.add(owner)

    def _on_set(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        track_owned_pod(self.expectations, self.queue, STATEFULSETS, type_, old, new)

    def sync(self, key: str) -> None:
        sts = self.sets.get(key)
        if sts is None:
            self.expectations.forget(key)
            return
        # Expectations before the pods are read (replica_set.go syncReplicaSet, as the
        # daemon set and job controllers): the other order lets a create observed in
        # between count as seen but not be in the list read before it, and be made twice.
        satisfied = self.expectations.satisfied(key)
        ns = namespace(sts)
        owned = [
            p
            for p in self.pods.by_index("controller", meta(sts).get("uid", ""))
            if namespace(p) == ns
        ]
        by_ordinal: dict[int, Obj] = {}
        for p in owned:
            i = ordinal(name(sts), name(p))
            if i is not None:
                by_ordinal[i] = p
        revision = revision_name(sts)
        revs = [r for r in self.revisions.by_index("controller", uid(sts)) if namespace(r) == ns]
        if not deleting(sts):
            ensure_revision(
                self.registry,
                sts,
                STATEFULSETS,
                revs,
                revision,
                revision_hash_of(sts),
                revision_data(sts),
            )
        if satisfied and not deleting(sts):
            plan = plan_statefulset(sts, by_ordinal, revision)
            self._apply(key, sts, plan, revision)
        self._update_status(sts, owned, revision)
        self._truncate_history(sts, owned, revs, revision)

    def _truncate_history(self, sts: Obj, pods: list[Obj], revs: list[Obj], revision: str) -> None:
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        keep = {revision, str((sts.get("status") or {}).get("currentRevision") or "")}
        keep |= {labels(p).get(REVISION_LABEL, "") for p in pods}
        for rev in stale_revisions(revs, keep, 10 if limit is None else int(limit)):
            try:
                self.registry.delete(REVISIONS, namespace(sts), name(rev))
            except ApiError as e:
                if e.code != 404:
                    raise

    def _apply(self, key: str, sts: Obj, plan: StsPlan, revision: str) -> None:
        ns = namespace(sts)
        for i in plan.create:
            pod = new_pod(sts, i, revision)
            self.expectations.expect(key, adds=1)
            try:
                self.registry.create(PODS, ns, pod)
            except ApiError as e:
                self.expectations.observed_add(key)
                if e.reason != "AlreadyExists":
                    raise
                continue
            record_event(
                self.registry,
                sts,
                "Normal",
                "SuccessfulCreate",
                f"create Pod {name(pod)} in StatefulSet {name(sts)} successful",
                COMPONENT,
            )
        for pod_name in plan.delete:
            self.expectations.expect(key, deletes=[f"{ns}/{pod_name}"])
            try:
                self.registry.delete(PODS, ns, pod_name)
            except ApiError as e:
                self.expectations.observed_delete(key, f"{ns}/{pod_name}")
                if e.code != 404:
                    raise
                continue
            record_event(
                self.registry,
                sts,
                "Normal",
                "SuccessfulDelete",
                f"delete Pod {pod_name} in StatefulSet {name(sts)} successful",
                COMPONENT,
            )

    def _update_status(self, sts: Obj, pods: list[Obj], revision: str) -> None:
        status = statefulset_status(sts, pods, revision, self.clock())
        old = sts.get("status") or {}
        if same_status(
            {k: v for k, v in old.items() if not k.endswith("Revision")},
            {k: v for k, v in status.items() if not k.endswith("Revision")},
        ) and all(old.get(k) == status[k] for k in ("currentRevision", "updateRevision")):
            return
        fresh = copy.copy(sts)
        fresh["status"] = omit_empty_status("StatefulSet", status)
        self.registry.update(STATEFULSETS, namespace(sts), name(sts), fresh, subresource="status")
