"""Job decisions and its loop: completions with parallelism, backoffLimit."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import JOBS, mark, pods, running, wait_for

from podnet.apiserver.registry import Registry
from podnet.controllers.job import verdict, want_active


def job(completions: int | None = 3, parallelism: int = 2, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "parallelism": parallelism,
        "template": {
            "metadata": {"labels": {"app": "j"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
        },
        **spec,
    }
    if completions is not None:
        s["completions"] = completions
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": s}


def p(phase: str) -> dict[str, Any]:
    return {"metadata": {"name": phase}, "status": {"phase": phase}}


def test_want_active() -> None:
    assert want_active(job(3, 2), succeeded=0, active=0) == 2
    assert want_active(job(3, 2), succeeded=2, active=0) == 1
    assert want_active(job(3, 2), succeeded=3, active=0) == 0
    assert want_active(job(None, 2), succeeded=0, active=0) == 2
    assert want_active(job(None, 2), succeeded=1, active=1) == 1


def test_verdict() -> None:
    assert verdict(job(2), [p("Succeeded"), p("Running")], 0.0) is None
    assert verdict(job(2), [p("Succeeded"), p("Succeeded")], 0.0) == (
        "Complete",
        "CompletionsReached",
        "Reached expected number of succeeded pods",
    )
    failed = [p("Failed")] * 3
    assert verdict(job(2, backoffLimit=2), failed, 0.0) == (
        "Failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert verdict(job(2, backoffLimit=3), failed, 0.0) is None
    assert verdict(job(None), [p("Succeeded")], 0.0) is not None
    timed = job(2, activeDeadlineSeconds=10)
    timed["status"] = {"startTime": "2026-01-01T00:00:00Z"}
    assert verdict(timed, [], 1767225600.0 + 10)[0:2] == ("Failed", "DeadlineExceeded")  # type: ignore[index]


def _active(registry: Registry) -> list[dict[str, Any]]:
    return [
        x
        for x in pods(registry)
        if (x.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _conditions(registry: Registry) -> dict[str, str]:
    st = registry.get(JOBS, "default", "j").get("status") or {}
    return {c["type"]: c["reason"] for c in st.get("conditions") or ()}


def test_loop_job_runs_parallelism_at_a_time_until_completions() -> None:
    with running(nodes=2) as (registry, _):
        j = registry.create(JOBS, "default", job(3, 2))
        wait_for(lambda: len(pods(registry)) == 2, what="2 pods")
        for x in pods(registry):
            assert x["metadata"]["generateName"] == "j-"
            labels = x["metadata"]["labels"]
            assert labels["batch.kubernetes.io/job-name"] == "j"
            assert labels["batch.kubernetes.io/controller-uid"] == j["metadata"]["uid"]
            assert x["metadata"]["ownerReferences"][0]["kind"] == "Job"
        wait_for(lambda: registry.get(JOBS, "default", "j").get("status"), what="status")
        st = registry.get(JOBS, "default", "j")["status"]
        assert st["active"] == 2 and st.get("startTime")
        for x in _active(registry):
            mark(registry, x, phase="Succeeded", ready=False)
        wait_for(lambda: len(pods(registry)) == 3, what="the third pod")
        assert len(_active(registry)) == 1
        mark(registry, _active(registry)[0], phase="Succeeded", ready=False)
        wait_for(lambda: "Complete" in _conditions(registry), what="Complete")
        st = registry.get(JOBS, "default", "j")["status"]
        assert st["succeeded"] == 3 and "active" not in st
        assert st.get("completionTime")
        assert _conditions(registry) == {
            "SuccessCriteriaMet": "CompletionsReached",
            "Complete": "CompletionsReached",
        }
        assert len(pods(registry)) == 3


def test_loop_job_fails_past_backoff_limit() -> None:
    with running(nodes=2) as (registry, _):
        registry.create(JOBS, "default", job(1, 1, backoffLimit=1))
        for expected in (1, 2):
            wait_for(lambda n=expected: len(pods(registry)) == n, what=f"pod {expected}")  # type: ignore[misc]
            mark(registry, _active(registry)[0], phase="Failed", ready=False)
        wait_for(lambda: "Failed" in _conditions(registry), what="Failed")
        assert _conditions(registry)["Failed"] == "BackoffLimitExceeded"
        assert registry.get(JOBS, "default", "j")["status"]["failed"] == 2
        assert len(pods(registry)) == 2


def test_loop_suspended_job_has_no_pods_until_resumed() -> None:
    with running(nodes=1) as (registry, _):
        registry.create(JOBS, "default", job(2, 2, suspend=True))
        wait_for(lambda: _conditions(registry).get("Suspended") == "JobSuspended", what="suspended")
        assert pods(registry) == []
        assert "startTime" not in registry.get(JOBS, "default", "j")["status"]
        j = registry.get(JOBS, "default", "j")
        registry.update(JOBS, "default", "j", {**j, "spec": {**j["spec"], "suspend": False}})
        wait_for(lambda: len(pods(registry)) == 2, what="resumed pods")
        wait_for(lambda: _conditions(registry).get("Suspended") == "JobResumed", what="resumed")
        assert registry.get(JOBS, "default", "j")["status"]["startTime"]
