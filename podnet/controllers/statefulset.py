"""StatefulSets (pkg/controller/statefulset/stateful_set_control.go, stateful_set_utils.go).

Pods ``<name>-<ordinal>`` with a stable hostname (``spec.hostname``) under the governing
Service (``spec.subdomain = serviceName``), labelled with their pod name, index and the
``controller-revision-hash`` of the template they were made from. OrderedReady creates
one ordinal at a time, the next only once every lower one is Running and Ready, and
removes from the highest ordinal, one at a time; Parallel does both at once. A
RollingUpdate replaces pods of an older revision from the highest ordinal down to
``partition``, one at a time once all are ready. Failed pods are deleted and made again.
Revisions are named in the labels only; no ControllerRevision objects are written.

Stable storage (stateful_pod_control.go, stateful_set_utils.go): before a pod is made,
each of ``spec.volumeClaimTemplates`` becomes a PersistentVolumeClaim
``<template>-<set>-<ordinal>`` unless it exists (an existing one is reused, so a pod made
again finds its data), and the pod mounts it as the volume named after the template.
``persistentVolumeClaimRetentionPolicy`` (StatefulSetAutoDeletePVC, GA in 1.32) is kept
in the claims' owner references for the garbage collector: ``whenDeleted: Delete`` makes
the set their controller, ``whenScaled: Delete`` makes a scaled-down pod the controller
of its claims before it is deleted; Retain (the default) leaves them without owners.
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
    owner_reference,
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
CLAIMS: Resource = by_kind("", "PersistentVolumeClaim")  # type: ignore[assignment]
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
    update_storage(sts, pod, i)
    return pod


# -- stable storage (stateful_set_utils.go) ------------------------------------------------


def claim_templates(sts: Obj) -> list[Obj]:
    return [
        t for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or () if isinstance(t, dict)
    ]


def claim_name(sts: Obj, template: Obj, i: int) -> str:
    """getPersistentVolumeClaimName: ``<template>-<set>-<ordinal>``."""
    return f"{name(template)}-{name(sts)}-{i}"


def new_claims(sts: Obj, i: int) -> dict[str, Obj]:
    """getPersistentVolumeClaims: template name -> the claim of ordinal ``i``, the
    template's spec, labels and annotations, in the set's namespace, its labels also the
    selector's matchLabels (which win)."""
    match_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claims: dict[str, Obj] = {}
    for t in claim_templates(sts):
        tmeta = meta(t)
        md: dict[str, Any] = {"name": claim_name(sts, t, i), "namespace": namespace(sts)}
        claim_labels = {**(tmeta.get("labels") or {}), **match_labels}
        if claim_labels:
            md["labels"] = claim_labels
        if tmeta.get("annotations"):
            md["annotations"] = dict(tmeta["annotations"])
        claims[name(t)] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": md,
            "spec": copy.deepcopy(t.get("spec") or {}),
        }
    return claims


def update_storage(sts: Obj, pod: Obj, i: int) -> None:
    """updateStorage: a ``persistentVolumeClaim`` volume per template, named after it,
    replacing a pod volume of that name; the pod's other volumes after them. (Upstream
    ranges over a map, so its order is random; here the templates' order.)"""
    claims = new_claims(sts, i)
    if not claims:
        return
    spec = pod.setdefault("spec", {})
    volumes: list[Any] = [
        {"name": tname, "persistentVolumeClaim": {"claimName": name(claim)}}
        for tname, claim in claims.items()
    ]
    volumes += [
        v
        for v in spec.get("volumes") or ()
        if not (isinstance(v, dict) and v.get("name") in claims)
    ]
    spec["volumes"] = volumes


# -- claim retention (stateful_set_utils.go, StatefulSetAutoDeletePVC) ---------------------

RETAIN, DELETE = "Retain", "Delete"


def retention_policy(sts: Obj) -> tuple[str, str]:
    """getPersistentVolumeClaimRetentionPolicy: (whenDeleted, whenScaled), Retain unless
    set."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return str(policy.get("whenDeleted") or RETAIN), str(policy.get("whenScaled") or RETAIN)


def _refs(obj: Obj) -> list[dict[str, Any]]:
    return [r for r in meta(obj).get("ownerReferences") or () if isinstance(r, dict)]


def _matches_ref(ref: Mapping[str, Any], obj: Obj, res: Resource) -> bool:
    """matchesRef: same name, kind and group/version (the uid not compared)."""
    return (
        ref.get("apiVersion") == res.group_version
        and ref.get("kind") == res.kind
        and ref.get("name") == name(obj)
    )


def has_owner_ref(target: Obj, owner: Obj) -> bool:
    """hasOwnerRef: a reference to ``owner``'s uid, controller or not."""
    return any(r.get("uid") == uid(owner) for r in _refs(target))


def has_stale_owner_ref(target: Obj, obj: Obj, res: Resource) -> bool:
    """hasStaleOwnerRef: the first reference naming ``obj`` carries another uid (an
    earlier object of that name, e.g. a pod since deleted)."""
    for ref in _refs(target):
        if _matches_ref(ref, obj, res):
            return ref.get("uid") != uid(obj)
    return False


def has_unexpected_controller(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """hasUnexpectedController: under a Delete policy, a controller other than this set
    and pod, or a reference to them under another uid (wrongly orphaned claims, left to
    the garbage collector)."""
    if retention_policy(sts) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim):
        if _matches_ref(ref, sts, STATEFULSETS):
            if ref.get("uid") != uid(sts):
                return True
            continue
        if _matches_ref(ref, pod, PODS):
            if ref.get("uid") != uid(pod):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def has_non_controller_owner(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """hasNonControllerOwner: the set or pod owns the claim without being its controller
    (what releases before 1.32 wrote): such references are rewritten."""
    return any(
        r.get("uid") in (uid(sts), uid(pod)) and not r.get("controller") for r in _refs(claim)
    )


def pod_scaled_down(sts: Obj, pod: Obj) -> bool:
    """Not podInOrdinalRange: the pod's ordinal is not below ``replicas``."""
    i = ordinal(name(sts), name(pod))
    return i is None or not 0 <= i < spec_replicas(sts)


def claim_owner_up_to_date(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """isClaimOwnerUpToDate: the claim's references are what the policy asks (Retain and
    Retain: neither set nor pod; whenDeleted Delete: the set while the pod is in range;
    whenScaled Delete: the pod once scaled down). Stale references and foreign
    controllers count as up to date, so that such a claim is left alone."""
    if has_stale_owner_ref(claim, sts, STATEFULSETS) or has_stale_owner_ref(claim, pod, PODS):
        return True
    if has_unexpected_controller(claim, sts, pod):
        return not (has_owner_ref(claim, sts) or has_owner_ref(claim, pod))
    if has_non_controller_owner(claim, sts, pod):
        return False
    want_set, want_pod = _wanted_owners(sts, pod)
    return has_owner_ref(claim, sts) == want_set and has_owner_ref(claim, pod) == want_pod


def _wanted_owners(sts: Obj, pod: Obj) -> tuple[bool, bool]:
    """(the set, the pod) as the claim's controller, per the policy: whenDeleted Delete
    asks for the set while the pod is in range (always, when whenScaled is Retain),
    whenScaled Delete for the pod once it is scaled down; an unknown value is Retain."""
    when_deleted, when_scaled = retention_policy(sts)
    if when_deleted not in (RETAIN, DELETE) or when_scaled not in (RETAIN, DELETE):
        return False, False
    pod_owns = when_scaled == DELETE and pod_scaled_down(sts, pod)
    return when_deleted == DELETE and not pod_owns, pod_owns


def claim_owner_refs(claim: Obj, sts: Obj, pod: Obj) -> list[dict[str, Any]]:
    """updateClaimOwnerRefForSetAndPod: the claim's references with those to this set
    and pod scrubbed, then the set and/or the pod added back as controller
    (metav1.NewControllerRef) as the policy asks; none added over a foreign controller."""
    unexpected = has_unexpected_controller(claim, sts, pod)
    refs = [
        r
        for r in _refs(claim)
        if not (_matches_ref(r, sts, STATEFULSETS) or _matches_ref(r, pod, PODS))
    ]
    if unexpected:
        return refs
    want_set, want_pod = _wanted_owners(sts, pod)
    if want_set:
        refs.append(owner_reference(sts, STATEFULSETS))
    if want_pod:
        refs.append(owner_reference(pod, PODS))
    return refs


def with_owner_refs(claim: Obj, refs: list[dict[str, Any]]) -> Obj:
    """A copy of ``claim`` (never mutate the cache's) carrying ``refs``."""
    fresh = copy.copy(claim)
    md = dict(meta(claim))
    if refs:
        md["ownerReferences"] = refs
    else:
        md.pop("ownerReferences", None)
    fresh["metadata"] = md
    return fresh


def claim_prefixes(sts: Obj) -> list[str]:
    """Index function: ``<namespace>/<template>-<set>-``, each claim name of the set less
    its ordinal, so that a claim event finds its set."""
    return [f"{namespace(sts)}/{name(t)}-{name(sts)}-" for t in claim_templates(sts)]


def aggregate(errors: Sequence[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several (each once) in
    brackets."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


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
        self.claims = self.informers.get(CLAIMS)
        self.pods.add_index("controller", controller_uid)
        self.revisions.add_index("controller", controller_uid)
        self.sets.add_index("claim-prefix", claim_prefixes)
        self.expectations = Expectations()
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)
        self.revisions.add_handler(self._on_revision)
        self.claims.add_handler(self._on_claim)

    def _on_claim(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        """A claim made, changed or gone queues the sets it is named for: one blocked on
        it (being deleted, or still owned by a scaled-down pod: PodClaimIsStale) goes on.
        Upstream has no such handler and waits for the next event or retry instead."""
        assert new is not None
        m = re.fullmatch(r"(.+-)\d+", name(new))
        if m is not None:
            for key in self.sets.index_keys("claim-prefix", f"{namespace(new)}/{m.group(1)}"):
                self.queue.add(key)

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
            self._sync_claims(sts, by_ordinal)
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
        failed: ApiError | None = None
        for i in plan.create:
            pod = new_pod(sts, i, revision)
            if self._claim_is_stale(sts, pod, i):
                continue  # its claim still belongs to an earlier pod of that name: wait
            # CreateStatefulPod: the claims first; the pod only once they all exist
            errors, error = self._create_claims(sts, pod, i)
            if errors:
                record_event(
                    self.registry,
                    sts,
                    "Warning",
                    "FailedCreate",
                    f"create Pod {name(pod)} in StatefulSet {name(sts)} failed error: "
                    f"{aggregate(errors)}",
                    COMPONENT,
                )
                failed = failed or error
                continue
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
        if failed is not None:
            raise failed  # retried with back-off, as the error upstream's sync returns

    def _claim_is_stale(self, sts: Obj, pod: Obj, i: int) -> bool:
        """PodClaimIsStale: under whenScaled Delete, a claim of the pod about to be made
        still references an earlier pod of its name (scaled down, its claim not yet
        collected): making the pod now would hand it a claim about to go."""
        if retention_policy(sts)[1] == RETAIN:
            return False
        return any(has_stale_owner_ref(cached, pod, PODS) for cached in self._cached_claims(sts, i))

    def _cached_claims(self, sts: Obj, i: int) -> list[Obj]:
        """The claims of ordinal ``i`` the cache holds (the claim lister's Get)."""
        found = (
            self.claims.get(f"{namespace(sts)}/{claim_name(sts, t, i)}")
            for t in claim_templates(sts)
        )
        return [c for c in found if c is not None]

    def _create_claims(self, sts: Obj, pod: Obj, i: int) -> tuple[list[str], ApiError | None]:
        """createPersistentVolumeClaims: each missing claim of ordinal ``i`` created, with
        the owner references the retention policy asks (set at once rather than by the
        later update upstream makes); an Event per claim made or failed (recordClaimEvent).
        Returns the errors' messages (a claim being deleted is one) and the first API
        error. An AlreadyExists (a claim the cache had not seen yet) is no error: the
        claim is there, and is used, as upstream's next sync would find it."""
        errors: list[str] = []
        first: ApiError | None = None
        cached_claims = self._cached_claims(sts, i)
        if len(cached_claims) == len(claim_templates(sts)) and not any(
            deleting(c) for c in cached_claims
        ):
            return errors, first  # all there: the common case, nothing built
        for claim in new_claims(sts, i).values():
            cname = name(claim)
            cached = self.claims.get(obj_key(claim))
            if cached is not None:
                if deleting(cached):
                    errors.append(f"pvc {cname} is being deleted")
                continue
            refs = claim_owner_refs(claim, sts, pod)
            if refs:
                claim["metadata"]["ownerReferences"] = refs
            try:
                self.registry.create(CLAIMS, namespace(sts), claim)
            except ApiError as e:
                if e.reason == "AlreadyExists":
                    continue
                errors.append(f"failed to create PVC {cname}: {e.message}")
                first = first or e
                record_event(
                    self.registry,
                    sts,
                    "Warning",
                    "FailedCreate",
                    f"create Claim {cname} for Pod {name(pod)} in StatefulSet {name(sts)} "
                    f"failed error: {e.message}",
                    COMPONENT,
                )
                continue
            record_event(
                self.registry,
                sts,
                "Normal",
                "SuccessfulCreate",
                f"create Claim {cname} Pod {name(pod)} in StatefulSet {name(sts)} success",
                COMPONENT,
            )
        return errors, first

    def _sync_claims(self, sts: Obj, pods: Mapping[int, Obj]) -> None:
        """The claims of the pods that exist: a Pending pod in range gets the ones it
        lacks (createMissingPersistentVolumeClaims), and every pod's claims the owner
        references the retention policy asks for, a condemned pod's before it is deleted
        (ClaimsMatchRetentionPolicy, UpdatePodClaimForRetentionPolicy). Upstream looks at
        the in-range pods one by one as its ordered walk reaches them; here at all."""
        if not claim_templates(sts):
            return
        for i, pod in sorted(pods.items()):
            in_range = not pod_scaled_down(sts, pod)
            if in_range and pod_phase(pod) == "Pending" and not deleting(pod):
                _, error = self._create_claims(sts, pod, i)
                if error is not None:
                    raise error
            self._update_claim_owners(sts, pod, i, in_range)

    def _update_claim_owners(self, sts: Obj, pod: Obj, i: int, in_range: bool) -> None:
        """UpdatePodClaimForRetentionPolicy: each cached claim of the pod whose references
        are not up to date rewritten; a missing one is picked up later. A failure is an
        Event for a pod in range (UpdateStatefulPod's recordPodEvent; the condemned get
        none) and raised."""
        for cached in self._cached_claims(sts, i):
            if claim_owner_up_to_date(cached, sts, pod):
                continue
            if has_unexpected_controller(cached, sts, pod):
                record_event(
                    self.registry,
                    sts,
                    "Warning",
                    "ConflictingController",
                    f"PersistentVolumeClaim {name(cached)} has a conflicting OwnerReference "
                    "that acts as a manging controller, the retention policy is ignored for "
                    "this claim",  # upstream's wording, its typo included
                    COMPONENT,
                )
            fresh = with_owner_refs(cached, claim_owner_refs(cached, sts, pod))
            try:
                self.registry.update(CLAIMS, namespace(sts), name(cached), fresh)
            except ApiError as e:
                if e.code == 404:
                    continue  # gone meanwhile: nothing left to own
                if in_range and e.code != 409:  # a conflict is retried at once (RetryOnConflict)
                    record_event(
                        self.registry,
                        sts,
                        "Warning",
                        "FailedUpdate",
                        f"update Pod {name(pod)} in StatefulSet {name(sts)} failed error: "
                        f"could not update claim {name(cached)} for delete policy ownerRefs: "
                        f"{e.message}",
                        COMPONENT,
                    )
                raise

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
