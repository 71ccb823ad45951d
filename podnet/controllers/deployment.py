"""Deployments (pkg/controller/deployment: sync.go, rolling.go, recreate.go, progress.go,
util/deployment_util.go).

One ReplicaSet per pod template: named ``<deployment>-<hash>``, the hash
(``controller.ComputeHash``) also in the ``pod-template-hash`` label of its selector and
template, annotated with the revision, desired-replicas and max-replicas. RollingUpdate
scales the new set up within ``maxSurge`` and old ones down keeping ``replicas -
maxUnavailable`` available; Recreate empties the old ones first. A changed
``spec.replicas`` goes to the new set (mid-rollout the old sets shrink through the
rolling rules rather than upstream's proportional scaling). Old sets beyond
``revisionHistoryLimit`` that hold no pods are deleted. The status and the Available /
Progressing conditions are what ``kubectl rollout status`` waits on.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import (
    Controller,
    compute_hash,
    controller_uid,
    deleting,
    int_or_percent,
    meta,
    name,
    namespace,
    owner_key,
    owner_reference,
    parse_time,
    record_event,
    rfc3339,
    set_condition,
)
from podnet.controllers.informer import obj_key
from podnet.controllers.replicaset import (
    BATCH_PERIOD,
    REPLICASETS,
    omit_empty_status,
    same_status,
    spec_replicas,
)

DEPLOYMENTS: Resource = by_kind("apps", "Deployment")  # type: ignore[assignment]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
COMPONENT = "deployment-controller"


def _status(rs: Obj, field_: str) -> int:
    return int((rs.get("status") or {}).get(field_) or 0)


def revision(rs: Obj) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def without_hash(template: Any) -> Any:
    t = copy.deepcopy(template or {})
    lab = (t.get("metadata") or {}).get("labels")
    if isinstance(lab, dict):
        lab.pop(HASH_LABEL, None)
        if not lab:
            del t["metadata"]["labels"]
    return t


def template_hash(deploy: Obj) -> str:
    spec = deploy.get("spec") or {}
    count = (deploy.get("status") or {}).get("collisionCount")
    return compute_hash(spec.get("template") or {}, count)


# annotationsToSkip (deployment_util.go): not copied from a Deployment to its sets
_SKIP_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        DESIRED,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)


def copied_annotations(deploy: Obj) -> dict[str, str]:
    """copyDeploymentAnnotationsToReplicaSet: the user's annotations travel along."""
    anns = meta(deploy).get("annotations") or {}
    return {k: v for k, v in anns.items() if k not in _SKIP_ANNOTATIONS}


def find_new_rs(deploy: Obj, rss: Sequence[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest set whose template equals the deployment's,
    ignoring the hash label (EqualIgnoreHash)."""
    want = without_hash((deploy.get("spec") or {}).get("template"))
    for rs in sorted(rss, key=lambda r: (meta(r).get("creationTimestamp") or "", name(r))):
        if without_hash((rs.get("spec") or {}).get("template")) == want:
            return rs
    return None


def surge_and_unavailable(deploy: Obj) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailable down; both 0 means 1 unavailable."""
    spec = deploy.get("spec") or {}
    strategy = spec.get("strategy") or {}
    replicas = spec_replicas(deploy)
    if strategy.get("type") == "Recreate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


@dataclass
class Plan:
    """One sync's changes: a new ReplicaSet to create (its replicas) and scales."""

    create: int | None = None
    scale: dict[str, int] = field(default_factory=dict)


def plan_rollout(deploy: Obj, new: Obj | None, olds: Sequence[Obj]) -> Plan:
    """What the strategy does next, given the current sets (rolling.go / recreate.go)."""
    spec = deploy.get("spec") or {}
    replicas = spec_replicas(deploy)
    plan = Plan()
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        active_olds = [r for r in olds if spec_replicas(r) > 0]
        for r in active_olds:
            plan.scale[name(r)] = 0
        if active_olds or any(_status(r, "replicas") > 0 for r in olds):
            return plan  # wait for old pods to be gone
        if new is None:
            plan.create = replicas
        elif spec_replicas(new) != replicas:
            plan.scale[name(new)] = replicas
        return plan
    surge, max_unavailable = surge_and_unavailable(deploy)
    all_rs = [*olds, *([new] if new is not None else [])]
    current = sum(spec_replicas(r) for r in all_rs)
    new_spec = spec_replicas(new) if new is not None else 0
    if new_spec > replicas:
        target = replicas
    elif current >= replicas + surge:
        target = new_spec
    else:
        target = new_spec + min(replicas + surge - current, replicas - new_spec)
    if new is None:
        plan.create = target
        return plan
    if target != new_spec:
        plan.scale[name(new)] = target
        return plan
    # reconcileOldReplicaSets
    olds_sorted = sorted(olds, key=lambda r: (meta(r).get("creationTimestamp") or "", name(r)))
    sizes = {name(r): spec_replicas(r) for r in olds_sorted}
    min_available = replicas - max_unavailable
    new_unavailable = new_spec - _status(new, "availableReplicas")
    max_scaled_down = current - min_available - new_unavailable
    if max_scaled_down <= 0:
        return plan
    total = 0
    for r in olds_sorted:  # cleanupUnhealthyReplicas
        if total >= max_scaled_down:
            break
        n, avail = sizes[name(r)], _status(r, "availableReplicas")
        if n == 0 or n <= avail:
            continue
        down = min(max_scaled_down - total, n - avail)
        sizes[name(r)] = n - down
        total += down
    available = sum(_status(r, "availableReplicas") for r in all_rs)
    budget = available - min_available
    done = 0
    for r in olds_sorted:  # scaleDownOldReplicaSetsForRollingUpdate
        if done >= budget:
            break
        n = sizes[name(r)]
        if n == 0:
            continue
        down = min(n, budget - done)
        sizes[name(r)] = n - down
        done += down
    for r in olds_sorted:
        if sizes[name(r)] != spec_replicas(r):
            plan.scale[name(r)] = sizes[name(r)]
    return plan


def _annotation_int(rs: Obj, key: str) -> int | None:
    try:
        return int((meta(rs).get("annotations") or {})[key])
    except (KeyError, ValueError):
        return None


def proportional_scale(deploy: Obj, rss: Sequence[Obj]) -> dict[str, int] | None:
    """sync.go scale(): a changed spec.replicas while several sets hold pods (a rollout
    under way) is spread over them in proportion to their size, the rest to the
    largest. None when this is no scaling event (isScalingEvent) or another path
    handles it (one active set, Recreate)."""
    replicas = spec_replicas(deploy)
    active = [r for r in rss if spec_replicas(r) > 0]
    if (
        len(active) < 2
        or ((deploy.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate"
    ):
        return None
    if all(_annotation_int(r, DESIRED) in (None, replicas) for r in active):
        return None
    surge, _ = surge_and_unavailable(deploy)
    allowed = replicas + surge
    total = sum(spec_replicas(r) for r in rss)
    to_add = allowed - total
    if to_add == 0:
        return None

    def created(r: Obj) -> str:
        return str(meta(r).get("creationTimestamp") or "")

    if to_add > 0:  # ReplicaSetsBySizeNewer: largest first, then newer
        ordered = sorted(active, key=lambda r: (-spec_replicas(r), _neg(created(r))))
    else:  # ReplicaSetsBySizeOlder: largest first, then older
        ordered = sorted(active, key=lambda r: (-spec_replicas(r), created(r)))
    sizes = {name(r): spec_replicas(r) for r in rss}
    added = 0
    for r in ordered:
        annotated = _annotation_int(r, MAX_REPLICAS) or int(
            (deploy.get("status") or {}).get("replicas") or 0
        )
        if replicas == 0 or annotated == 0:
            fraction = -spec_replicas(r)
        else:
            fraction = round(spec_replicas(r) * allowed / annotated) - spec_replicas(r)
        left = to_add - added
        step = min(fraction, left) if to_add > 0 else max(fraction, left)
        sizes[name(r)] += step
        added += step
    if added != to_add and ordered:
        sizes[name(ordered[0])] += to_add - added
    return {
        n: max(0, v)
        for n, v in sizes.items()
        if v != spec_replicas(next(r for r in rss if name(r) == n))
    }


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def deployment_status(
    deploy: Obj, new: Obj | None, all_rs: Sequence[Obj], now: float
) -> dict[str, Any]:
    """calculateStatus plus the conditions of sync.go and progress.go."""
    replicas = spec_replicas(deploy)
    _, max_unavailable = surge_and_unavailable(deploy)
    old = deploy.get("status") or {}
    available = sum(_status(r, "availableReplicas") for r in all_rs)
    status: dict[str, Any] = {
        "observedGeneration": int(meta(deploy).get("generation") or 1),
        "replicas": sum(_status(r, "replicas") for r in all_rs),
        "updatedReplicas": _status(new, "replicas") if new is not None else 0,
        "readyReplicas": sum(_status(r, "readyReplicas") for r in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(sum(spec_replicas(r) for r in all_rs) - available, 0),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    stamp = rfc3339(now)
    conds = list(old.get("conditions") or ())
    if available >= replicas - max_unavailable:
        conds = set_condition(
            conds,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            stamp,
            update_time=True,
        )
    else:
        conds = set_condition(
            conds,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            stamp,
            update_time=True,
        )
    if new is not None:
        conds = _progressing(deploy, new, old, status, conds, now)
    order = {"Available": 0, "Progressing": 1}
    status["conditions"] = sorted(conds, key=lambda c: order.get(str(c.get("type")), 2))
    return status


def _progressing(
    deploy: Obj,
    new: Obj,
    old: dict[str, Any],
    status: dict[str, Any],
    conds: list[dict[str, Any]],
    now: float,
) -> list[dict[str, Any]]:
    """progress.go syncRolloutStatus: complete, else progressing (lastUpdateTime moves
    only when something moved), else timed out past progressDeadlineSeconds."""
    stamp = rfc3339(now)
    replicas = spec_replicas(deploy)
    current = next((c for c in conds if c.get("type") == "Progressing"), None)
    rs_name = name(new)
    complete = (
        status["updatedReplicas"] == replicas
        and status["replicas"] == replicas
        and status["availableReplicas"] == replicas
    )
    old_olds = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    moved = (
        status["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
        or status["replicas"] - status["updatedReplicas"] < old_olds
        or status["readyReplicas"] > int(old.get("readyReplicas") or 0)
        or status["availableReplicas"] > int(old.get("availableReplicas") or 0)
    )
    if complete:
        return set_condition(
            conds,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            stamp,
            update_time=True,
        )
    if moved or current is None:
        out = [c for c in conds if c.get("type") != "Progressing"]
        kept = current is not None and current.get("status") == "True"
        out.append(
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": stamp,
                "lastTransitionTime": (current or {}).get("lastTransitionTime", stamp)
                if kept
                else stamp,
                "reason": "ReplicaSetUpdated" if current is not None else "NewReplicaSetCreated",
                "message": f'ReplicaSet "{rs_name}" is progressing.'
                if current is not None
                else f'Created new replica set "{rs_name}"',
            }
        )
        return out
    if progress_deadline_left(deploy, current, now) == 0.0:
        return set_condition(
            conds,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
            stamp,
            update_time=True,
        )
    return conds


def progress_deadline_left(
    deploy: Obj, progressing: dict[str, Any] | None, now: float
) -> float | None:
    """Seconds until the rollout times out (0: it has), None without a deadline."""
    deadline = (deploy.get("spec") or {}).get("progressDeadlineSeconds")
    if deadline is None or progressing is None or int(deadline) >= 2**31 - 1:
        return None
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return 0.0
    since = parse_time(progressing.get("lastUpdateTime"))
    if since is None:
        return None
    return max(0.0, since + int(deadline) - now)


def history_to_delete(deploy: Obj, olds: Sequence[Obj]) -> list[Obj]:
    """cleanupDeployment: empty old sets beyond revisionHistoryLimit, oldest first."""
    limit = (deploy.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    empty = [
        r for r in olds if spec_replicas(r) == 0 and _status(r, "replicas") == 0 and not deleting(r)
    ]
    empty.sort(key=lambda r: (revision(r), meta(r).get("creationTimestamp") or ""))
    return empty[: max(len(empty) - limit, 0)]


class DeploymentController(Controller):
    name = "deployment"

    def setup(self) -> None:
        self.deployments = self.informers.get(DEPLOYMENTS)
        self.sets = self.informers.get(REPLICASETS)
        self.sets.add_index("controller", controller_uid)
        self.deployments.add_handler(self._on_deployment)
        self.sets.add_handler(self._on_set)

    def _on_deployment(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_set(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        owner = owner_key(new, DEPLOYMENTS)
        if owner is not None:  # a set's status moves with each pod: batch them
            self.queue.add_after(owner, BATCH_PERIOD)

    def sync(self, key: str) -> None:
        d = self.deployments.get(key)
        if d is None or deleting(d):
            return
        ns = namespace(d)
        rss = [
            r
            for r in self.sets.by_index("controller", meta(d).get("uid", ""))
            if namespace(r) == ns
        ]
        new = find_new_rs(d, rss)
        olds = [r for r in rss if r is not new]
        spec = d.get("spec") or {}
        if not spec.get("paused"):
            scaled = proportional_scale(d, rss)
            plan = Plan(scale=scaled) if scaled is not None else plan_rollout(d, new, olds)
            if plan.create is not None:
                new = self._create_new(d, rss, plan.create)
            for rs in rss:
                if name(rs) in plan.scale:
                    self._scale(d, rs, plan.scale[name(rs)])
            if new is not None:
                d = self._annotate(d, new, rss)
            for rs in history_to_delete(d, olds):
                try:
                    self.registry.delete(REPLICASETS, ns, name(rs))
                except ApiError as e:
                    if e.code != 404:
                        raise
        all_rs = [*olds, *([new] if new is not None else [])]
        now = self.clock()
        status = deployment_status(d, new, all_rs, now)
        progressing = next(
            (c for c in status["conditions"] if c.get("type") == "Progressing"), None
        )
        left = progress_deadline_left(d, progressing, now)
        if left and (progressing or {}).get("reason") == "ReplicaSetUpdated":
            self.queue.add_after(key, left + 1.0)  # requeueStuckDeployment
        old_status = d.get("status") or {}
        if same_status(
            {k: v for k, v in old_status.items() if k != "conditions"},
            {k: v for k, v in status.items() if k != "conditions"},
        ) and _same_conditions(old_status.get("conditions"), status["conditions"]):
            return
        fresh = copy.copy(d)
        fresh["status"] = omit_empty_status("Deployment", status)
        self.registry.update(DEPLOYMENTS, ns, name(d), fresh, subresource="status")

    def _annotations(self, d: Obj, replicas_rev: int | None) -> dict[str, str]:
        surge, _ = surge_and_unavailable(d)
        out = {DESIRED: str(spec_replicas(d)), MAX_REPLICAS: str(spec_replicas(d) + surge)}
        if replicas_rev is not None:
            out[REVISION] = str(replicas_rev)
        return out

    def _create_new(self, d: Obj, rss: Sequence[Obj], replicas: int) -> Obj:
        ns = namespace(d)
        h = template_hash(d)
        spec = d.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        rev = max((revision(r) for r in rss), default=0) + 1
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name(d)}-{h}",
                "namespace": ns,
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {**copied_annotations(d), **self._annotations(d, rev)},
                "ownerReferences": [owner_reference(d, DEPLOYMENTS)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        try:
            out: Obj = self.registry.create(REPLICASETS, ns, rs)
        except ApiError as e:
            if e.reason != "AlreadyExists":
                raise
            existing: Obj = self.registry.get(REPLICASETS, ns, f"{name(d)}-{h}")
            ours = meta(existing).get("ownerReferences") and controller_uid(existing) == [
                meta(d).get("uid")
            ]
            if ours and without_hash(existing["spec"].get("template")) == without_hash(
                spec.get("template")
            ):
                return existing
            # a hash collision: count it and try the next name (getNewReplicaSet)
            fresh = copy.copy(d)
            st = dict(d.get("status") or {})
            st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
            fresh["status"] = st
            self.registry.update(DEPLOYMENTS, ns, name(d), fresh, subresource="status")
            raise
        record_event(
            self.registry,
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled up replica set {name(out)} from 0 to {replicas}",
            COMPONENT,
        )
        return out

    def _scale(self, d: Obj, rs: Obj, replicas: int) -> None:
        before = spec_replicas(rs)
        fresh = copy.deepcopy(rs)
        fresh["spec"]["replicas"] = replicas
        fresh["metadata"].setdefault("annotations", {}).update(self._annotations(d, None))
        self.registry.update(REPLICASETS, namespace(rs), name(rs), fresh)
        verb = "up" if replicas > before else "down"
        record_event(
            self.registry,
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {name(rs)} from {before} to {replicas}",
            COMPONENT,
        )

    def _annotate(self, d: Obj, new: Obj, rss: Sequence[Obj]) -> Obj:
        """The new set carries the highest revision (a rollback bumps an old set's), and
        the deployment the same one (SetNewReplicaSetAnnotations), written through
        UpdateStatus as sync.go getNewReplicaSet does: deploymentStatusStrategy takes
        annotations from a status write, and a status write bumps no generation.
        Returns the deployment as stored (its status is written next)."""
        top = max((revision(r) for r in rss if r is not new and name(r) != name(new)), default=0)
        rev = revision(new)
        if rev <= top:
            rev = top + 1
            fresh = self.registry.get(REPLICASETS, namespace(new), name(new))
            fresh = copy.deepcopy(fresh)
            fresh["metadata"].setdefault("annotations", {}).update(self._annotations(d, rev))
            self.registry.update(REPLICASETS, namespace(new), name(new), fresh)
        if (meta(d).get("annotations") or {}).get(REVISION) != str(rev):
            fresh = copy.deepcopy(d)
            fresh["metadata"].setdefault("annotations", {})[REVISION] = str(rev)
            out: Obj = self.registry.update(
                DEPLOYMENTS, namespace(d), name(d), fresh, subresource="status"
            )
            return out
        return d


def _same_conditions(old: Any, new: list[dict[str, Any]]) -> bool:
    """Equal but for lastUpdateTime (written only when something else changed)."""

    def strip(cs: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "lastUpdateTime"} for c in cs or ()]

    return strip(old) == strip(new)
