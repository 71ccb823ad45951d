"""The CronJob controller against the real Registry and informers, its clock injected:
a day of schedules runs in milliseconds (pkg/controller/cronjob/cronjob_controllerv2.go)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from support.ctrl_loop import JOBS, NAMESPACES, res, wait_for

from podnet.apiserver.admission import cron
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.cronjob import (
    CRONJOBS,
    SCHEDULED_ANNOTATION,
    CronJobController,
    history_to_delete,
    job_name,
    most_recent_schedule,
)
from podnet.controllers.informer import Informers

Obj = dict[str, Any]
EVENTS = res("", "Event")
T0 = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@contextmanager
def controller() -> Iterator[tuple[Registry, CronJobController, Clock]]:
    clock = Clock(T0)
    registry = Registry(MemoryStore(), clock=clock)
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    informers = Informers(registry)
    ctrl = CronJobController(registry, informers, clock=clock)
    ctrl.setup()
    informers.start()
    try:
        assert informers.wait_synced(10.0)
        yield registry, ctrl, clock
    finally:
        informers.stop(2.0)
        registry.store.close()


def cronjob(registry: Registry, schedule: str = "*/1 * * * *", **spec: Any) -> Obj:
    obj = {
        "metadata": {"name": "x"},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"labels": {"tier": "batch"}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                },
            },
            **spec,
        },
    }
    return registry.create(CRONJOBS, "default", obj)


def sync(ctrl: CronJobController, registry: Registry) -> Obj:
    """One sync once the informers hold what the registry holds."""
    jobs = {j["metadata"]["resourceVersion"] for j in registry.list(JOBS, "default").items}
    wait_for(lambda: ctrl.cronjobs.get("default/x") is not None, what="cronjob cached")
    wait_for(
        lambda: {j["metadata"]["resourceVersion"] for j in ctrl.jobs.objects()} == jobs,
        what="jobs cached",
    )
    ctrl.sync("default/x")
    return registry.get(CRONJOBS, "default", "x")


def jobs(registry: Registry) -> list[str]:
    return sorted(j["metadata"]["name"] for j in registry.list(JOBS, "default").items)


def finish(registry: Registry, name: str, kind: str = "Complete", at: float = T0) -> None:
    job = copy.deepcopy(registry.get(JOBS, "default", name))
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    job["status"] = {
        "startTime": stamp,
        "conditions": [{"type": kind, "status": "True"}],
        **({"completionTime": stamp} if kind == "Complete" else {}),
    }
    registry.update(JOBS, "default", name, job, subresource="status")


def test_most_recent_schedule_counts_missed() -> None:
    every = cron.parse("*/1 * * * *")
    assert most_recent_schedule(every, UTC, T0, T0 + 30) == (None, 0)
    assert most_recent_schedule(every, UTC, T0, T0 + 185) == (T0 + 180, 3)
    t, missed = most_recent_schedule(every, UTC, T0, T0 + 30 * 86400)
    assert t == T0 + 30 * 86400 and missed > 100


def test_creates_the_job_of_each_schedule_time_once() -> None:
    with controller() as (registry, ctrl, clock):
        cronjob(registry)
        assert "lastScheduleTime" not in sync(ctrl, registry).get("status", {})
        assert jobs(registry) == []
        clock.t = T0 + 65
        cj = sync(ctrl, registry)
        name = job_name("x", T0 + 60)
        assert name == f"x-{int(T0 + 60) // 60}"
        assert jobs(registry) == [name]
        job = registry.get(JOBS, "default", name)
        ref = job["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "x", True)
        assert job["metadata"]["labels"]["tier"] == "batch"
        assert job["metadata"]["annotations"][SCHEDULED_ANNOTATION] == "2026-01-01T10:01:00Z"
        assert cj["status"]["lastScheduleTime"] == "2026-01-01T10:01:00Z"
        assert [a["name"] for a in cj["status"]["active"]] == [name]
        sync(ctrl, registry)  # the same minute again: nothing new
        assert jobs(registry) == [name]
        # the job completes: it leaves active, lastSuccessfulTime follows
        finish(registry, name, at=T0 + 90)
        cj = sync(ctrl, registry)
        assert "active" not in cj["status"]
        assert cj["status"]["lastSuccessfulTime"] == "2026-01-01T10:01:30Z"
        reasons = {e["reason"] for e in registry.list(EVENTS, "default").items}
        assert {"SuccessfulCreate", "SawCompletedJob"} <= reasons


def test_forbid_skips_while_one_runs_and_replace_replaces() -> None:
    with controller() as (registry, ctrl, clock):
        cronjob(registry, concurrencyPolicy="Forbid")
        clock.t = T0 + 60
        sync(ctrl, registry)
        first = jobs(registry)
        clock.t = T0 + 120
        sync(ctrl, registry)
        assert jobs(registry) == first  # Forbid: the running one blocks the next
        cj = copy.deepcopy(registry.get(CRONJOBS, "default", "x"))
        cj["spec"]["concurrencyPolicy"] = "Replace"
        registry.update(CRONJOBS, "default", "x", cj)
        wait_for(
            lambda: (
                (ctrl.cronjobs.get("default/x") or {}).get("spec", {}).get("concurrencyPolicy")
                == "Replace"
            )
        )
        cj = sync(ctrl, registry)
        now_jobs = [j for j in jobs(registry) if j not in first]
        assert now_jobs == [job_name("x", T0 + 120)]
        assert [a["name"] for a in cj["status"]["active"]] == now_jobs
        old = registry.list(JOBS, "default").items
        assert all(
            j["metadata"].get("deletionTimestamp") for j in old if j["metadata"]["name"] in first
        ) or all(j["metadata"]["name"] not in first for j in old)


def test_suspend_and_starting_deadline() -> None:
    with controller() as (registry, ctrl, clock):
        cronjob(registry, suspend=True)
        clock.t = T0 + 300
        sync(ctrl, registry)
        assert jobs(registry) == []
        cj = copy.deepcopy(registry.get(CRONJOBS, "default", "x"))
        cj["spec"]["suspend"] = False
        cj["spec"]["startingDeadlineSeconds"] = 10
        registry.update(CRONJOBS, "default", "x", cj)
        wait_for(lambda: not (ctrl.cronjobs.get("default/x") or {})["spec"]["suspend"])
        clock.t = T0 + 330  # 10:05:30: 10:05 is 30 s late, past the 10 s deadline
        sync(ctrl, registry)
        assert jobs(registry) == []
        clock.t = T0 + 365  # 10:06:05: in time
        sync(ctrl, registry)
        assert jobs(registry) == [job_name("x", T0 + 360)]


def test_history_limits() -> None:
    with controller() as (registry, ctrl, clock):
        cronjob(registry, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0)
        made = []
        for i in range(1, 4):
            clock.t = T0 + 60 * i
            sync(ctrl, registry)
            name = job_name("x", T0 + 60 * i)
            made.append(name)
            finish(registry, name, "Failed" if i == 2 else "Complete", at=T0 + 60 * i + 1)
        sync(ctrl, registry)
        left = [
            j["metadata"]["name"]
            for j in registry.list(JOBS, "default").items
            if not j["metadata"].get("deletionTimestamp")
        ]
        assert left == [made[2]]  # the newest success; no failed kept


def test_history_to_delete_is_oldest_first() -> None:
    def job(name: str, kind: str, start: str) -> Obj:
        return {
            "metadata": {"name": name},
            "status": {"startTime": start, "conditions": [{"type": kind, "status": "True"}]},
        }

    done = [job("b", "Complete", "2"), job("a", "Complete", "1"), job("c", "Failed", "3")]
    assert [j["metadata"]["name"] for j in history_to_delete(done, 1, None)] == ["a"]
    assert [j["metadata"]["name"] for j in history_to_delete(done, None, 0)] == ["c"]
