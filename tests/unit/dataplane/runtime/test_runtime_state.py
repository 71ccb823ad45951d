"""Back-off, restart decisions, pod phase and readiness thresholds (pure)."""

from __future__ import annotations

import pytest

from podnet.dataplane.runtime.probes import ProbeState, observe
from podnet.dataplane.runtime.state import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    TERMINATED,
    WAITING,
    ContainerStatus,
    backoff_delay,
    pod_phase,
    should_restart,
)
from podnet.model.objects import Probe


def test_backoff_schedule_doubles_from_10s_to_300s() -> None:
    assert [backoff_delay(n) for n in range(0, 8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    assert backoff_delay(100) == 300
    assert backoff_delay(3, scale=0.01) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("policy", "code", "init", "restart"),
    [
        ("Always", 0, False, True),
        ("Always", 1, False, True),
        ("OnFailure", 0, False, False),
        ("OnFailure", 2, False, True),
        ("Never", 1, False, False),
        ("Always", 0, True, False),  # init containers run to completion once
        ("Always", 1, True, True),
        ("Never", 1, True, False),
    ],
)
def test_should_restart(policy: str, code: int, init: bool, restart: bool) -> None:
    assert should_restart(policy, code, init=init) is restart


def run(name: str = "c") -> ContainerStatus:
    return ContainerStatus(name, state=RUNNING, reason="")


def done(code: int, name: str = "c") -> ContainerStatus:
    return ContainerStatus(name, state=TERMINATED, exit_code=code)


BACKOFF = ContainerStatus("c", state=WAITING, reason="CrashLoopBackOff", exit_code=1)


@pytest.mark.parametrize(
    ("init", "app", "started", "phase"),
    [
        ((), (ContainerStatus("c"),), False, PENDING),
        ((run("i"),), (ContainerStatus("c"),), False, PENDING),
        ((done(1, "i"),), (ContainerStatus("c"),), False, FAILED),
        ((done(0, "i"),), (run(),), True, RUNNING),
        ((), (run(), done(0, "d")), True, RUNNING),
        ((), (BACKOFF,), True, RUNNING),
        ((), (done(0), done(0, "d")), True, SUCCEEDED),
        ((), (done(0), done(3, "d")), True, FAILED),
        ((), (done(137),), True, FAILED),
    ],
)
def test_pod_phase(
    init: tuple[ContainerStatus, ...], app: tuple[ContainerStatus, ...], started: bool, phase: str
) -> None:
    assert pod_phase(init, app, app_started=started) == phase


def test_readiness_thresholds() -> None:
    probe = Probe(exec_command=("true",), success_threshold=2, failure_threshold=3)
    s = ProbeState()
    s = observe(probe, s, True)
    assert not s.ready  # 1 of 2 successes
    s = observe(probe, s, True)
    assert s.ready
    s = observe(probe, observe(probe, s, False), False)
    assert s.ready  # 2 of 3 failures
    s = observe(probe, s, False)
    assert not s.ready
    s = observe(probe, s, True)
    assert not s.ready and s.successes == 1
