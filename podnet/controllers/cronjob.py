"""CronJobs (pkg/controller/cronjob/cronjob_controllerv2.go syncCronJob, utils.go).

Each sync reconciles ``status.active`` with the Jobs the CronJob owns, then, unless
suspended, finds the most recent schedule time not yet run (from ``lastScheduleTime``
or the creation time, no earlier than ``startingDeadlineSeconds`` ago) and starts the
Job ``<cronjob>-<scheduled time in minutes>`` as ``concurrencyPolicy`` allows, trims
the finished Jobs to the history limits, and requeues itself for the next schedule
time. The clock is the controller's (injectable), so tests run a day of schedules in
milliseconds.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from podnet.apiserver.admission import cron
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
    owner_key,
    owner_reference,
    parse_time,
    record_event,
    rfc3339,
)
from podnet.controllers.informer import obj_key
from podnet.controllers.job import JOBS

CRONJOBS: Resource = by_kind("batch", "CronJob")  # type: ignore[assignment]
COMPONENT = "cronjob-controller"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_MAX_MISSED = 100  # utils.go: more missed start times than this is reported
_SCAN_LIMIT = 10_000  # schedule times walked before jumping close to now


def job_name(cronjob_name: str, scheduled: float) -> str:
    """getJobName: the scheduled time in minutes since the epoch, so a restart of the
    controller never starts the same run twice (the name is taken)."""
    return f"{cronjob_name}-{int(scheduled) // 60}"


def most_recent_schedule(
    schedule: cron.Schedule, zone: tzinfo, earliest: float, now: float
) -> tuple[float | None, int]:
    """(the latest schedule time in (earliest, now], how many there were): utils.go
    mostRecentScheduleTime. A long gap is not walked whole: past ``_SCAN_LIMIT`` times
    the walk restarts a hundred periods before ``now`` (the count is then "many")."""
    t = schedule.next(earliest, zone)
    if t > now:
        return None, 0
    last, count = t, 0
    while t <= now:
        last, count = t, count + 1
        if count >= _SCAN_LIMIT:
            period = schedule.next(t, zone) - t
            t = max(t, now - _MAX_MISSED * period)
            last = t
        t = schedule.next(t, zone)
    return last, count


def job_from_template(cj: Obj, scheduled: float, zone: tzinfo) -> Obj:
    """getJobFromTemplate2: the template's labels and annotations, the scheduled time
    annotation in the CronJob's zone (RFC 3339), the controller reference."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    stamp = datetime.fromtimestamp(int(scheduled), zone).isoformat()
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_ANNOTATION] = stamp.replace("+00:00", "Z")
    md: dict[str, Any] = {
        "name": job_name(name(cj), scheduled),
        "namespace": namespace(cj),
        "annotations": annotations,
        "ownerReferences": [owner_reference(cj, CRONJOBS)],
    }
    if tmeta.get("labels"):
        md["labels"] = dict(tmeta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": md,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def job_finished(job: Obj) -> str | None:
    """IsJobFinished / getFinishedStatus: "Complete" or "Failed", else None."""
    for t in ("Complete", "Failed"):
        c = condition(job, t)
        if c is not None and c.get("status") == "True":
            return t
    return None


def job_ref(job: Obj) -> dict[str, Any]:
    """ref.GetReference of a Job, as status.active lists it."""
    m = meta(job)
    return {
        "kind": "Job",
        "namespace": namespace(job),
        "name": name(job),
        "uid": m.get("uid", ""),
        "apiVersion": "batch/v1",
        "resourceVersion": m.get("resourceVersion", ""),
    }


def history_to_delete(jobs: Sequence[Obj], successful: int | None, failed: int | None) -> list[Obj]:
    """cleanupFinishedJobs / removeOldestJobs: the oldest finished Jobs (by start time)
    beyond each history limit (no limit: keep all)."""
    out: list[Obj] = []
    for kind, limit in (("Complete", successful), ("Failed", failed)):
        if limit is None:
            continue
        done = [j for j in jobs if job_finished(j) == kind and not deleting(j)]
        done.sort(key=lambda j: str((j.get("status") or {}).get("startTime") or ""))
        out += done[: max(0, len(done) - limit)]
    return out


class CronJobController(Controller):
    name = "cronjob"

    def setup(self) -> None:
        self.cronjobs = self.informers.get(CRONJOBS)
        self.jobs = self.informers.get(JOBS)
        self.jobs.add_index("controller", controller_uid)
        self.cronjobs.add_handler(self._on_cronjob)
        self.jobs.add_handler(self._on_job)

    def _on_cronjob(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        self.queue.add(obj_key(new))

    def _on_job(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        assert new is not None
        owner = owner_key(new, CRONJOBS)
        if owner is not None:
            self.queue.add(owner)

    def sync(self, key: str) -> None:
        cached = self.cronjobs.get(key)
        if cached is None:
            return
        # the API's copy, not the cache's: a Job this controller just made must be in
        # the status it reads (syncCronJob re-reads it on an unexpected Job for that)
        try:
            cj = self.registry.get(CRONJOBS, namespace(cached), name(cached))
        except ApiError as e:
            if e.code == 404:
                return
            raise
        now = self.clock()
        ns = namespace(cj)
        jobs = [
            j
            for j in self.jobs.by_index("controller", meta(cj).get("uid", ""))
            if namespace(j) == ns
        ]
        status = copy.deepcopy(cj.get("status") or {})
        active: list[dict[str, Any]] = list(status.get("active") or [])
        self._reconcile_active(cj, jobs, status, active)
        requeue = self._maybe_run(cj, jobs, status, active, now)
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
        self._cleanup(cj, jobs)
        if status != (cj.get("status") or {}):
            fresh = copy.copy(cj)
            fresh["status"] = status
            self.registry.update(CRONJOBS, ns, name(cj), fresh, subresource="status")
        if requeue is not None:
            # nextScheduleTimeDuration: a little after the next time, never negative
            self.queue.add_after(key, max(0.0, requeue - now) + 0.1)

    def _reconcile_active(
        self, cj: Obj, jobs: Sequence[Obj], status: dict[str, Any], active: list[dict[str, Any]]
    ) -> None:
        """The first half of syncCronJob: finished Jobs leave status.active, the newest
        success sets lastSuccessfulTime, Jobs gone from the API leave it too."""
        children = {meta(j).get("uid") for j in jobs}
        for j in jobs:
            uid = meta(j).get("uid")
            found = any(a.get("uid") == uid for a in active)
            done = job_finished(j)
            if not found and done is None:
                record_event(
                    self.registry,
                    cj,
                    "Warning",
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {name(j)}",
                    COMPONENT,
                )
            elif found and done is not None:
                active[:] = [a for a in active if a.get("uid") != uid]
                record_event(
                    self.registry,
                    cj,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {name(j)}, condition: {done}",
                    COMPONENT,
                )
            if done == "Complete":
                completed = (j.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if completed and (
                    not last or (parse_time(completed) or 0) > (parse_time(last) or 0)
                ):
                    status["lastSuccessfulTime"] = completed
        for ref in list(active):
            if ref.get("uid") in children:
                continue
            try:
                self.registry.get(JOBS, namespace(cj), str(ref.get("name", "")))
            except ApiError as e:
                if e.code == 404:
                    active.remove(ref)

    def _maybe_run(
        self,
        cj: Obj,
        jobs: Sequence[Obj],
        status: dict[str, Any],
        active: list[dict[str, Any]],
        now: float,
    ) -> float | None:
        """The second half: start the due Job; returns the next schedule time."""
        spec = cj.get("spec") or {}
        if deleting(cj) or spec.get("suspend"):
            return None
        try:
            zone = cron.zone(spec.get("timeZone"))
        except cron.CronError:
            record_event(
                self.registry,
                cj,
                "Warning",
                "UnknownTimeZone",
                f"invalid timeZone: {spec.get('timeZone')!r}",
                COMPONENT,
            )
            return None
        try:
            schedule = cron.parse(str(spec.get("schedule") or ""))
        except cron.CronError as e:
            record_event(
                self.registry,
                cj,
                "Warning",
                "UnparseableSchedule",
                f"unparseable schedule: {spec.get('schedule')!r} : {e}",
                COMPONENT,
            )
            return None
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
            meta(cj).get("creationTimestamp")
        )
        if earliest is None:
            earliest = now
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - int(deadline))
        scheduled, missed = most_recent_schedule(schedule, zone, earliest, now)
        next_time = schedule.next(now, zone)
        if scheduled is None:
            return next_time
        if missed > _MAX_MISSED:
            record_event(
                self.registry,
                cj,
                "Warning",
                "TooManyMissedTimes",
                f"too many missed start times: {missed}. Set or decrease "
                ".spec.startingDeadlineSeconds or check clock skew",
                COMPONENT,
            )
        if deadline is not None and scheduled + int(deadline) < now:
            record_event(
                self.registry,
                cj,
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {rfc3339(scheduled)}",
                COMPONENT,
            )
            return next_time
        wanted = job_name(name(cj), scheduled)
        if any(a.get("name") == wanted for a in active) or status.get(
            "lastScheduleTime"
        ) == rfc3339(scheduled):
            return next_time
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            record_event(
                self.registry,
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
                COMPONENT,
            )
            return next_time
        if policy == "Replace":
            for ref in list(active):
                try:
                    self.registry.delete(
                        JOBS, namespace(cj), str(ref.get("name", "")), propagation="Background"
                    )
                except ApiError as e:
                    if e.code != 404:
                        raise
                active.remove(ref)
                record_event(
                    self.registry,
                    cj,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted job {ref.get('name')}",
                    COMPONENT,
                )
        try:
            job = self.registry.create(JOBS, namespace(cj), job_from_template(cj, scheduled, zone))
        except ApiError as e:
            if e.reason != "AlreadyExists":
                raise
            # created by an earlier sync whose status write was lost: adopt it as made
            job = self.registry.get(JOBS, namespace(cj), wanted)
            if owner_key(job, CRONJOBS) != obj_key(cj):
                raise
        else:
            record_event(
                self.registry,
                cj,
                "Normal",
                "SuccessfulCreate",
                f"Created job {name(job)}",
                COMPONENT,
            )
        if job_finished(job) is None and not any(
            a.get("uid") == meta(job).get("uid") for a in active
        ):
            active.append(job_ref(job))
        status["lastScheduleTime"] = rfc3339(scheduled)
        return next_time

    def _cleanup(self, cj: Obj, jobs: Sequence[Obj]) -> None:
        spec = cj.get("spec") or {}
        for j in history_to_delete(
            jobs, spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        ):
            try:
                self.registry.delete(JOBS, namespace(j), name(j), propagation="Background")
            except ApiError as e:
                if e.code != 404:
                    raise
                continue
            record_event(
                self.registry, cj, "Normal", "SuccessfulDelete", f"Deleted job {name(j)}", COMPONENT
            )
