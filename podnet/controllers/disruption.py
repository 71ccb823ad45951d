"""PodDisruptionBudget status (pkg/controller/disruption/disruption.go trySync).

For each budget: the pods its selector picks in its namespace, how many of them must
stay healthy (``minAvailable`` / ``maxUnavailable``, ints or percentages of the
controllers' scale), how many are healthy (Ready, not being deleted, not just evicted),
and so how many disruptions are allowed now. The eviction subresource
(:mod:`podnet.apiserver.binding`) spends ``disruptionsAllowed`` and notes the pod in
``disruptedPods``; this controller drops the note once the pod is gone or after
``DeletionTimeout`` (2 minutes), when it recounts.
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
    by_namespace,
    controller_ref,
    deleting,
    int_or_percent,
    label_selector,
    labels,
    meta,
    name,
    namespace,
    parse_time,
    pod_ready,
    record_event,
    rfc3339,
    selector_matches,
)
from podnet.controllers.informer import obj_key
from podnet.controllers.replicaset import PODS

PDBS: Resource = by_kind("policy", "PodDisruptionBudget")  # type: ignore[assignment]
COMPONENT = "controllermanager"
DELETION_TIMEOUT = 120.0  # disruption.go DeletionTimeout
_SCALED = {
    # finders (disruption.go getPodReplicaSet, getPodDeployment, getPodReplicationController,
    # getPodStatefulSet): the controllers whose spec.replicas is the expected pod count
    ("apps", "ReplicaSet"),
    ("apps", "Deployment"),
    ("", "ReplicationController"),
    ("apps", "StatefulSet"),
}


@dataclass(frozen=True)
class Counts:
    expected: int
    desired_healthy: int
    unmanaged: int


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def expected_scale(
    pods: Sequence[Obj], lookup: Callable[[str, str, str, str], Obj | None]
) -> tuple[int, int]:
    """getExpectedScale: (the sum of the scales of the pods' controllers, pods with no
    controller). A ReplicaSet owned by a Deployment counts as the Deployment. Raises
    ValueError for a controller that cannot be found or has no scale."""
    seen: set[str] = set()
    total, unmanaged = 0, 0
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged += 1
            continue
        if ref.get("uid") in seen:
            continue
        group, kind = _group(str(ref.get("apiVersion", ""))), str(ref.get("kind", ""))
        if (group, kind) not in _SCALED:
            raise ValueError(f'found no controllers for pod "{name(pod)}"')
        owner = lookup(group, kind, namespace(pod), str(ref.get("name", "")))
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            raise ValueError(f'found no controllers for pod "{name(pod)}"')
        parent = controller_ref(owner) if kind == "ReplicaSet" else None
        if parent is not None and parent.get("kind") == "Deployment":
            dep = lookup("apps", "Deployment", namespace(pod), str(parent.get("name", "")))
            if dep is not None and meta(dep).get("uid") == parent.get("uid"):
                owner, ref = dep, parent
                if ref.get("uid") in seen:
                    continue
        seen.add(str(ref.get("uid")))
        replicas = (owner.get("spec") or {}).get("replicas")
        total += 1 if replicas is None else int(replicas)
    return total, unmanaged


def expected_counts(
    pdb: Obj, pods: Sequence[Obj], lookup: Callable[[str, str, str, str], Obj | None]
) -> Counts:
    """getExpectedPodCount: (expectedPods, desiredHealthy)."""
    spec = pdb.get("spec") or {}
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    if max_unavailable is not None:
        expected, unmanaged = expected_scale(pods, lookup)
        down = int_or_percent(max_unavailable, expected, True)
        return Counts(expected, max(0, expected - down), unmanaged)
    if isinstance(min_available, int):
        return Counts(len(pods), min_available, 0)
    if min_available is not None:
        expected, unmanaged = expected_scale(pods, lookup)
        return Counts(expected, int_or_percent(min_available, expected, True), unmanaged)
    return Counts(0, 0, 0)


def disrupted_pods(
    pdb: Obj, pods: Sequence[Obj], now: float
) -> tuple[dict[str, str], float | None]:
    """buildDisruptedPodMap: the evicted pods still present, not yet being deleted, noted
    less than DeletionTimeout ago; and when the next of them expires (to recheck)."""
    noted = (pdb.get("status") or {}).get("disruptedPods") or {}
    by_name = {name(p): p for p in pods}
    out: dict[str, str] = {}
    recheck: float | None = None
    for pod_name, stamp in noted.items():
        pod = by_name.get(pod_name)
        if pod is None or deleting(pod):
            continue
        t = parse_time(stamp)
        if t is None or t + DELETION_TIMEOUT < now:
            continue
        out[pod_name] = stamp
        expiry = t + DELETION_TIMEOUT
        recheck = expiry if recheck is None else min(recheck, expiry)
    return out, recheck


def current_healthy(pods: Sequence[Obj], disrupted: dict[str, str]) -> int:
    """countHealthyPods: Ready, not being deleted, not just evicted."""
    return sum(1 for p in pods if not deleting(p) and name(p) not in disrupted and pod_ready(p))


def allowed_condition(
    conditions: Sequence[dict[str, Any]],
    allowed: int,
    generation: int,
    now: str,
    *,
    reason: str = "",
) -> list[dict[str, Any]]:
    """pdb helpers UpdateDisruptionAllowedCondition (apimeta.SetStatusCondition: the
    transition time moves only when the status does)."""
    status = "True" if allowed > 0 and not reason else "False"
    why = reason or ("SufficientPods" if status == "True" else "InsufficientPods")
    old = next((c for c in conditions if c.get("type") == "DisruptionAllowed"), None)
    cond = {
        "type": "DisruptionAllowed",
        "status": status,
        "observedGeneration": generation,
        "lastTransitionTime": old["lastTransitionTime"]
        if old is not None and old.get("status") == status and old.get("lastTransitionTime")
        else now,
        "reason": why,
        "message": "",
    }
    return [*(dict(c) for c in conditions if c.get("type") != "DisruptionAllowed"), cond]


def pdb_status(
    pdb: Obj,
    pods: Sequence[Obj],
    now: float,
    lookup: Callable[[str, str, str, str], Obj | None],
) -> tuple[dict[str, Any], float | None, Counts | None, str]:
    """trySync's new status; the recheck time; the counts (None when the sync failed:
    failSafe, no disruption allowed, SyncFailed with the error)."""
    old = pdb.get("status") or {}
    generation = int(meta(pdb).get("generation") or 1)
    stamp = rfc3339(now)
    status = copy.deepcopy(old)
    try:
        counts = expected_counts(pdb, pods, lookup)
    except ValueError as e:
        status["disruptionsAllowed"] = 0
        status["observedGeneration"] = generation
        status["conditions"] = allowed_condition(
            old.get("conditions") or (), 0, generation, stamp, reason="SyncFailed"
        )
        status["conditions"][-1]["message"] = str(e)
        return status, None, None, str(e)
    disrupted, recheck = disrupted_pods(pdb, pods, now)
    healthy = current_healthy(pods, disrupted)
    allowed = max(0, healthy - counts.desired_healthy) if counts.expected > 0 else 0
    status.update(
        {
            "currentHealthy": healthy,
            "desiredHealthy": counts.desired_healthy,
            "expectedPods": counts.expected,
            "disruptionsAllowed": allowed,
            "observedGeneration": generation,
        }
    )
    if disrupted:
        status["disruptedPods"] = disrupted
    else:
        status.pop("disruptedPods", None)
    status["conditions"] = allowed_condition(
        old.get("conditions") or (), allowed, generation, stamp
    )
    return status, recheck, counts, ""


class DisruptionController(Controller):
    name = "disruption"

    def setup(self) -> None:
        self.pdbs = self.informers.get(PDBS)
        self.pods = self.informers.get(PODS)
        self.pods.add_index("namespace", by_namespace)
        self.pdbs.add_index("namespace", by_namespace)
        self.pdbs.add_handler(self._on_pdb)
        self.pods.add_handler(self._on_pod)

    def _on_pdb(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        """getPdbForPod: the budgets whose selector picks the pod (before or after)."""
        assert new is not None
        for pdb in self.pdbs.by_index("namespace", namespace(new)):
            sel = label_selector((pdb.get("spec") or {}).get("selector"))
            if selector_matches(sel, labels(new)) or (
                old is not None and selector_matches(sel, labels(old))
            ):
                self.queue.add(obj_key(pdb))

    def _lookup(self, group: str, kind: str, ns: str, obj_name: str) -> Obj | None:
        res = by_kind(group, kind)
        if res is None:
            return None
        found: Obj | None = self.registry.store.get(res.key(ns, obj_name))
        return found

    def sync(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None or deleting(pdb):
            return
        ns = namespace(pdb)
        sel = label_selector((pdb.get("spec") or {}).get("selector"))
        pods = [p for p in self.pods.by_index("namespace", ns) if selector_matches(sel, labels(p))]
        now = self.clock()
        if not pods:
            record_event(
                self.registry, pdb, "Normal", "NoPods", "No matching pods found", COMPONENT
            )
        status, recheck, counts, error = pdb_status(pdb, pods, now, self._lookup)
        if error:
            record_event(
                self.registry,
                pdb,
                "Warning",
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {error}",
                COMPONENT,
            )
        elif (
            counts is not None
            and counts.unmanaged
            and (
                (pdb.get("spec") or {}).get("maxUnavailable") is not None
                or isinstance((pdb.get("spec") or {}).get("minAvailable"), str)
            )
        ):
            record_event(
                self.registry,
                pdb,
                "Warning",
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {sel}) were found to be "
                "unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                '".spec.minAvailable" field of the PDB to an integer value.',
                COMPONENT,
            )
        if recheck is not None:
            self.queue.add_after(key, max(0.0, recheck - now) + 0.1)
        if status == (pdb.get("status") or {}):
            return
        fresh = copy.copy(pdb)
        fresh["status"] = status
        try:
            self.registry.update(PDBS, ns, name(pdb), fresh, subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise
