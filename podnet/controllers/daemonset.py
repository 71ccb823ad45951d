"""DaemonSets (pkg/controller/daemon/daemon_controller.go, update.go, util/daemonset_util.go).

One pod per node the template's node selector / affinity admits. Since 1.12 the pod is
not bound by the controller: it carries required node affinity ``matchFields
metadata.name In [<node>]`` (ReplaceDaemonSetPodNodeNameNodeAffinity) and the default
scheduler binds it. Pods on nodes no longer wanted, duplicates and failed pods are
deleted; a RollingUpdate replaces pods of an older template (``controller-revision-hash``)
up to ``maxUnavailable`` at a time.
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
    labels,
    meta,
    name,
    namespace,
    pod_available,
    pod_from_template,
    pod_phase,
    pod_ready,
    track_owned_pod,
)
from podnet.controllers.history import REVISIONS, ensure_revision, stale_revisions, template_patch
from podnet.controllers.informer import Expectations, obj_key
from podnet.controllers.replicaset import PODS, omit_empty_status, same_status
from podnet.controllers.scheduler import NODES, affinity_fits, node_order, untolerated_taint

DAEMONSETS: Resource = by_kind("apps", "DaemonSet")  # type: ignore[assignment]
REVISION_LABEL = "controller-revision-hash"


def daemon_hash(ds: Obj) -> str:
    count = int((ds.get("status") or {}).get("collisionCount") or 0)  # never nil here
    return compute_hash((ds.get("spec") or {}).get("template") or {}, count)


def pod_node(pod: Obj) -> str | None:
    """The node a daemon pod is for: its nodeName, else its metadata.name affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for f in term.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return str(f["values"][0])
    return None


def with_node_affinity(pod: Obj, node: str) -> Obj:
    """The pod's required node affinity replaced by ``metadata.name In [node]``."""
    spec = pod.setdefault("spec", {})
    affinity = spec.setdefault("affinity", {})
    na = affinity.setdefault("nodeAffinity", {})
    na["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]
    }
    return pod


# util/daemonset_util.go AddOrUpdateDaemonPodTolerations: daemon pods stay on nodes
# that are not ready, unreachable, under pressure or cordoned.
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def with_daemon_tolerations(pod: Obj) -> Obj:
    spec = pod.setdefault("spec", {})
    tolerations = spec.setdefault("tolerations", [])
    extra = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        extra.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in extra:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return pod


def eligible(ds: Obj, node: Obj) -> bool:
    """NodeShouldRunDaemonPod: the template's nodeSelector and node affinity admit it,
    and its tolerations (with the daemon ones) cover the node's taints."""
    template = (ds.get("spec") or {}).get("template") or {}
    pod = with_daemon_tolerations({"spec": copy.deepcopy(template.get("spec") or {})})
    return affinity_fits(pod, node) and untolerated_taint(pod, node) is None


@dataclass
class DsPlan:
    create: list[str] = field(default_factory=list)  # node names
    delete: list[str] = field(default_factory=list)  # pod names


def plan_daemonset(ds: Obj, nodes: Sequence[Obj], pods: Sequence[Obj], revision: str) -> DsPlan:
    """podsShouldBeOnNode over every node, then the rolling update (update.go)."""
    by_node: dict[str, list[Obj]] = {}
    for p in pods:
        n = pod_node(p)
        if n is not None:
            by_node.setdefault(n, []).append(p)
    plan = DsPlan()
    wanted = {name(n) for n in nodes if eligible(ds, n)}
    for node in sorted(wanted | set(by_node), key=node_order):
        here = [p for p in by_node.get(node, []) if not deleting(p)]
        if node not in wanted:
            plan.delete += [name(p) for p in here]
            continue
        failed = [p for p in here if pod_phase(p) == "Failed"]
        plan.delete += [name(p) for p in failed]
        alive = [p for p in here if pod_phase(p) != "Failed"]
        if not alive and not any(deleting(p) for p in by_node.get(node, [])):
            plan.create.append(node)
        elif len(alive) > 1:  # keep the oldest
            alive.sort(key=lambda p: (meta(p).get("creationTimestamp") or "", name(p)))
            plan.delete += [name(p) for p in alive[1:]]
    if plan.create or plan.delete:
        return plan
    spec = ds.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return plan
    max_unavailable = (
        int_or_percent(
            (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(wanted), True
        )
        or 1
    )
    current = [p for n in wanted for p in by_node.get(n, [])]
    unavailable = sum(1 for p in current if deleting(p) or not pod_ready(p))
    for p in sorted(current, key=lambda p: node_order(pod_node(p) or "")):
        if unavailable >= max_unavailable:
            break
        if labels(p).get(REVISION_LABEL) != revision and not deleting(p):
            plan.delete.append(name(p))
            unavailable += 1
    return plan


def daemonset_status(
    ds: Obj, nodes: Sequence[Obj], pods: Sequence[Obj], revision: str, now: float
) -> dict[str, Any]:
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    wanted = {name(n) for n in nodes if eligible(ds, n)}
    scheduled: dict[str, Obj] = {}
    misscheduled = 0
    for p in pods:
        if deleting(p):
            continue
        n = (p.get("spec") or {}).get("nodeName")
        if not n:
            continue
        if n in wanted:
            scheduled.setdefault(n, p)
        else:
            misscheduled += 1
    on = list(scheduled.values())
    available = sum(1 for p in on if pod_available(p, min_ready, now))
    return {
        "observedGeneration": int(meta(ds).get("generation") or 1),
        "desiredNumberScheduled": len(wanted),
        "currentNumberScheduled": len(scheduled),
        "numberMisscheduled": misscheduled,
        "numberReady": sum(1 for p in on if pod_ready(p)),
        "updatedNumberScheduled": sum(1 for p in on if labels(p).get(REVISION_LABEL) == revision),
        "numberAvailable": available,
        "numberUnavailable": max(len(wanted) - available, 0),
    }


class DaemonSetController(Controller):
    name = "daemonset"

    def setup(self) -> None:
        self.sets = self.informers.get(DAEMONSETS)
        self.pods = self.informers.get(PODS)
        self.nodes = self.informers.get(NODES)
        self.revisions = self.informers.get(REVISIONS)
        self.pods.add_index("controller", controller_uid)
        self.revisions.add_index("controller", controller_uid)
        self.expectations = Expectations()
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)

    def _on_set(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        track_owned_pod(self.expectations, self.queue, DAEMONSETS, type_, old, new)

    def _on_node(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        if (
            old is not None
            and new is not None
            and labels(old) == labels(new)
            and type_ == "MODIFIED"
        ):
            return  # status heartbeats change nothing here
        for key in self.sets.cache_keys():
            self.queue.add(key)

    def sync(self, key: str) -> None:
        ds = self.sets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        # Expectations before the pods are read (replica_set.go syncReplicaSet, as the
        # daemon set and job controllers): the other order lets a create observed in
        # between count as seen but not be in the list read before it, and be made twice.
        satisfied = self.expectations.satisfied(key)
        ns = namespace(ds)
        pods = [
            p
            for p in self.pods.by_index("controller", meta(ds).get("uid", ""))
            if namespace(p) == ns
        ]
        nodes = self.nodes.objects()
        revision = daemon_hash(ds)
        revs = [
            r
            for r in self.revisions.by_index("controller", meta(ds).get("uid", ""))
            if namespace(r) == ns
        ]
        if not deleting(ds):  # constructHistory
            data = template_patch((ds.get("spec") or {}).get("template") or {})
            ensure_revision(
                self.registry,
                ds,
                DAEMONSETS,
                revs,
                f"{name(ds)}-{revision}",
                revision,
                data,
                hash_label=REVISION_LABEL,
            )
            limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
            keep = {f"{name(ds)}-{revision}"} | {
                f"{name(ds)}-{labels(p).get(REVISION_LABEL, '')}" for p in pods
            }
            for rev in stale_revisions(revs, keep, 10 if limit is None else int(limit)):
                try:
                    self.registry.delete(REVISIONS, ns, name(rev))
                except ApiError as e:
                    if e.code != 404:
                        raise
        if satisfied and not deleting(ds):
            plan = plan_daemonset(ds, nodes, pods, revision)
            self._apply(key, ds, plan, revision)
        status = daemonset_status(ds, nodes, pods, revision, self.clock())
        if same_status(ds.get("status") or {}, status):
            return
        fresh = copy.copy(ds)
        fresh["status"] = omit_empty_status("DaemonSet", status)
        self.registry.update(DAEMONSETS, ns, name(ds), fresh, subresource="status")

    def _apply(self, key: str, ds: Obj, plan: DsPlan, revision: str) -> None:
        ns = namespace(ds)
        template = (ds.get("spec") or {}).get("template") or {}
        for node in plan.create:
            pod = pod_from_template(template, ds, DAEMONSETS, generate_name=f"{name(ds)}-")
            pod["metadata"].setdefault("labels", {})[REVISION_LABEL] = revision
            with_node_affinity(pod, node)
            with_daemon_tolerations(pod)
            self.expectations.expect(key, adds=1)
            try:
                self.registry.create(PODS, ns, pod)
            except ApiError:
                self.expectations.observed_add(key)
                raise
        for pod_name in plan.delete:
            self.expectations.expect(key, deletes=[f"{ns}/{pod_name}"])
            try:
                self.registry.delete(PODS, ns, pod_name)
            except ApiError as e:
                self.expectations.observed_delete(key, f"{ns}/{pod_name}")
                if e.code != 404:
                    raise
