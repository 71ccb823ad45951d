"""computePodActions' choice for a pod whose sandbox died, and the restart counts its
containers carry into the new sandbox (podnet/live/node/sandbox.py). Pure: no kernel
needed, kept beside the kernel tests of the same path."""

from __future__ import annotations

import pytest

from podnet.dataplane.runtime.state import RUNNING, TERMINATED, WAITING, ContainerStatus, PodStatus
from podnet.live.node.sandbox import next_restarts, shifted, should_recreate


def _status(*cs: ContainerStatus, init: tuple[ContainerStatus, ...] = ()) -> PodStatus:
    return PodStatus("default/p", "Running", init, cs)


RAN = ContainerStatus("c", RUNNING, reason="", restart_count=2, started=1.0)
NEVER_STARTED = ContainerStatus("c", WAITING)
SUCCEEDED = ContainerStatus("c", TERMINATED, reason="Completed", exit_code=0, started=1.0)
FAILED = ContainerStatus("c", TERMINATED, reason="Error", exit_code=1, started=1.0)


@pytest.mark.parametrize(
    ("policy", "status", "recreate"),
    [
        ("Always", _status(RAN), True),
        ("Always", _status(SUCCEEDED), True),
        ("Always", None, True),
        # "Should not restart the pod, just return": Never, containers ran
        ("Never", _status(RAN), False),
        ("Never", _status(FAILED), False),
        # ContainerStatuses empty: no container was ever created, the sandbox is retried
        ("Never", _status(NEVER_STARTED), True),
        ("Never", None, True),
        # OnFailure: containers that succeeded are not started again; none left: none
        ("OnFailure", _status(SUCCEEDED), False),
        ("OnFailure", _status(FAILED), True),
        ("OnFailure", _status(RAN), True),
    ],
)
def test_should_recreate(policy: str, status: PodStatus | None, recreate: bool) -> None:
    assert should_recreate(policy, status) is recreate


def test_next_restarts_count_one_more_for_each_container_that_ran() -> None:
    init = ContainerStatus("init", TERMINATED, exit_code=0, started=0.5, init=True)
    waiting = ContainerStatus("w", WAITING)
    got = next_restarts(_status(RAN, waiting, init=(init,)), {"w": 0})
    assert got == {"init": 1, "c": 3, "w": 0}
    assert next_restarts(None, {"c": 4}) == {"c": 4}


def test_shifted_raises_each_containers_restart_count_by_its_base() -> None:
    fresh = ContainerStatus("c", RUNNING, reason="", restart_count=0, started=9.0)
    got = shifted(_status(fresh), {"c": 3})
    assert [c.restart_count for c in got.containers] == [3]
    assert shifted(_status(fresh), {}).containers[0].restart_count == 0
