"""Jobs (pkg/controller/job/job_controller.go), NonIndexed completion mode.

Pods run ``parallelism`` at a time until ``completions`` have Succeeded (no
``completions``: until one succeeds and none is active, a work-queue Job). Failures
beyond ``backoffLimit`` (failed pods, plus container restarts under restartPolicy
OnFailure) fail the Job with ``BackoffLimitExceeded``; ``activeDeadlineSeconds`` with
``DeadlineExceeded``. Terminal conditions come as upstream writes them since 1.31: the
``SuccessCriteriaMet`` / ``FailureTarget`` condition, then ``Complete`` / ``Failed``.
Counts are taken from the pods that remain (no job-tracking finalizer), never going
down.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import (
    Controller,
    condition,
    controller_uid,
    deleting,
    meta,
    name,
    namespace,
    parse_time,
    pod_active,
    pod_from_template,
    pod_phase,
    pod_ready,
    record_event,
    rfc3339,
    track_owned_pod,
)
from podnet.controllers.informer import Expectations, obj_key
from podnet.controllers.replicaset import PODS, deletion_rank, slow_start_batches

JOBS: Resource = by_kind("batch", "Job")  # type: ignore[assignment]
COMPONENT = "job-controller"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def finished(job: Obj) -> bool:
    for t in ("Complete", "Failed"):
        c = condition(job, t)
        if c is not None and c.get("status") == "True":
            return True
    return False


def job_counts(job: Obj, pods: Sequence[Obj]) -> tuple[int, int, int, int]:
    """(active, succeeded, failed, ready); terminal counts never below the status'."""
    old = job.get("status") or {}
    active = [p for p in pods if pod_active(p)]
    succeeded = sum(1 for p in pods if pod_phase(p) == "Succeeded")
    failed = sum(1 for p in pods if pod_phase(p) == "Failed")
    return (
        len(active),
        max(succeeded, int(old.get("succeeded") or 0)),
        max(failed, int(old.get("failed") or 0)),
        sum(1 for p in active if pod_ready(p)),
    )


def restarts(pods: Sequence[Obj]) -> int:
    return sum(
        int(c.get("restartCount") or 0)
        for p in pods
        if pod_active(p)
        for c in (p.get("status") or {}).get("containerStatuses") or ()
    )


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """How many pods should be active (job_controller.go manageJob)."""
    spec = job.get("spec") or {}
    parallelism = int(spec.get("parallelism", 1) if spec.get("parallelism") is not None else 1)
    completions = spec.get("completions")
    if completions is None:
        # work queue: once one succeeded, no new pods; the active ones finish
        return min(parallelism, active) if succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - succeeded))


def verdict(job: Obj, pods: Sequence[Obj], now: float) -> tuple[str, str, str] | None:
    """("Complete" | "Failed", reason, message) once the Job is done."""
    spec = job.get("spec") or {}
    active, succeeded, failed, _ = job_counts(job, pods)
    completions = spec.get("completions")
    if completions is None:
        if succeeded > 0 and active == 0:
            return ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
    elif succeeded >= int(completions):
        return ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
    limit = int(spec.get("backoffLimit", 6) if spec.get("backoffLimit") is not None else 6)
    tpl_spec = ((spec.get("template") or {}).get("spec")) or {}
    retries = failed + (restarts(pods) if tpl_spec.get("restartPolicy") == "OnFailure" else 0)
    if retries > limit:
        return ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    deadline = spec.get("activeDeadlineSeconds")
    start = parse_time((job.get("status") or {}).get("startTime"))
    if deadline is not None and start is not None and now - start >= int(deadline):
        return ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
    return None


def _with_condition(
    status: dict[str, Any], type_: str, state: str, reason: str, message: str, now: float
) -> list[dict[str, Any]]:
    stamp = rfc3339(now)
    conds = [c for c in status.get("conditions") or () if c.get("type") != type_]
    conds.append(
        {
            "type": type_,
            "status": state,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }
    )
    return conds


class JobController(Controller):
    name = "job"

    def setup(self) -> None:
        self.jobs = self.informers.get(JOBS)
        self.pods = self.informers.get(PODS)
        self.pods.add_index("controller", controller_uid)
        self.expectations = Expectations()
        self.jobs.add_handler(self._on_job)
        self.pods.add_handler(self._on_pod)

    def _on_job(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_pod(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        track_owned_pod(self.expectations, self.queue, JOBS, type_, old, new)

    def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            self.expectations.forget(key)
            return
        if finished(job) or deleting(job):
            return
        # Expectations before the pods are read (replica_set.go syncReplicaSet, as the
        # daemon set and job controllers): the other order lets a create observed in
        # between count as seen but not be in the list read before it, and be made twice.
        satisfied = self.expectations.satisfied(key)
        ns = namespace(job)
        pods = [
            p
            for p in self.pods.by_index("controller", meta(job).get("uid", ""))
            if namespace(p) == ns
        ]
        now = self.clock()
        status = copy.deepcopy(job.get("status") or {})
        suspended = bool((job.get("spec") or {}).get("suspend"))
        was_suspended = (condition(job, "Suspended") or {}).get("status") == "True"
        if suspended:
            # a suspended Job has no active pods and no startTime; resumed, it starts again
            status.pop("startTime", None)
            if not was_suspended:
                status["conditions"] = _with_condition(
                    status, "Suspended", "True", "JobSuspended", "Job suspended", now
                )
        else:
            status.setdefault("startTime", rfc3339(now))
            if was_suspended:
                status["conditions"] = _with_condition(
                    status, "Suspended", "False", "JobResumed", "Job resumed", now
                )
        job_now = dict(job, status=status)
        done = None if suspended else verdict(job_now, pods, now)
        active_pods = [p for p in pods if pod_active(p)]
        if suspended or (done is not None and done[0] == "Failed"):
            self._delete(key, active_pods)
            active_pods = []
        changed = 0  # pods created (+) or deleted (-) by this sync
        if satisfied and not suspended and done is None:
            _, succeeded, _, _ = job_counts(job_now, pods)
            want = want_active(job_now, succeeded, len(active_pods))
            if len(active_pods) < want:
                self._create(key, job, want - len(active_pods))
                changed = want - len(active_pods)
            elif len(active_pods) > want:
                extra = sorted(active_pods, key=deletion_rank)[: len(active_pods) - want]
                self._delete(key, extra)
                changed = -len(extra)
        active, succeeded, failed, ready = job_counts(job_now, pods)
        # job_controller.go manageJob returns the active count with the pods it just
        # created (or deleted): status.active counts them at once
        active += changed
        status.update(
            {
                "active": len(active_pods) if done or suspended else active,
                "succeeded": succeeded,
                "failed": failed,
                "ready": ready,
                "terminating": sum(1 for p in pods if deleting(p)),
                # upstream counts finished pods through the job-tracking finalizer and
                # lists those not yet counted here; podnet counts the pods that remain,
                # so none is ever pending: empty, as a settled Job shows it
                "uncountedTerminatedPods": {},
            }
        )
        for k in ("active", "succeeded", "failed"):
            if not status[k]:
                del status[k]
        if done is not None:
            stamp = rfc3339(now)
            kind, reason, message = done
            interim = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            conds = [
                c for c in status.get("conditions") or () if c.get("type") not in (interim, kind)
            ]
            for t in (interim, kind):
                conds.append(
                    {
                        "type": t,
                        "status": "True",
                        "lastProbeTime": stamp,
                        "lastTransitionTime": stamp,
                        "reason": reason,
                        "message": message,
                    }
                )
            status["conditions"] = conds
            if kind == "Complete":
                status["completionTime"] = stamp
            record_event(
                self.registry,
                job,
                "Normal" if kind == "Complete" else "Warning",
                "Completed" if kind == "Complete" else reason,
                "Job completed" if kind == "Complete" else message,
                COMPONENT,
            )
        if status == (job.get("status") or {}):
            return
        fresh = copy.copy(job)
        fresh["status"] = status
        self.registry.update(JOBS, ns, name(job), fresh, subresource="status")
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        if done is None and deadline is not None:
            self.queue.add_after(key, float(deadline))

    def _create(self, key: str, job: Obj, count: int) -> None:
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        lab = template.setdefault("metadata", {}).setdefault("labels", {})
        for k in (JOB_NAME_LABEL, "job-name"):
            lab.setdefault(k, name(job))
        for k in (CONTROLLER_UID_LABEL, "controller-uid"):
            lab.setdefault(k, meta(job).get("uid", ""))
        self.expectations.expect(key, adds=count)
        made = 0
        try:
            for batch in slow_start_batches(count):
                for _ in range(batch):
                    pod = pod_from_template(template, job, JOBS, generate_name=f"{name(job)}-")
                    out = self.registry.create(PODS, namespace(job), pod)
                    made += 1
                    record_event(
                        self.registry,
                        job,
                        "Normal",
                        "SuccessfulCreate",
                        f"Created pod: {name(out)}",
                        COMPONENT,
                    )
        except ApiError:
            for _ in range(count - made):
                self.expectations.observed_add(key)
            raise

    def _delete(self, key: str, pods: Sequence[Obj]) -> None:
        for p in pods:
            self.expectations.expect(key, deletes=[obj_key(p)])
            try:
                self.registry.delete(PODS, namespace(p), name(p))
            except ApiError as e:
                self.expectations.observed_delete(key, obj_key(p))
                if e.code != 404:
                    raise
