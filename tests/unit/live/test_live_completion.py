"""When ``podnet run`` is done: :class:`Completion` over runtime status events."""

from __future__ import annotations

from podnet.dataplane.runtime.state import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    TERMINATED,
    WAITING,
    ContainerStatus,
    PodStatus,
)
from podnet.live.completion import Completion
from podnet.model.objects import Container, Pod


def _pod(name: str, *containers: str) -> Pod:
    return Pod(
        name=name,
        namespace="default",
        labels={},
        containers=tuple(Container(name=c, image="busybox") for c in containers),
    )


def _status(
    key: str, phase: str, *cs: ContainerStatus, init: tuple[ContainerStatus, ...] = ()
) -> PodStatus:
    return PodStatus(key, phase, init, cs)


def test_done_when_every_client_container_exited_once() -> None:
    seen: list[tuple[str, int]] = []
    c = Completion(on_done=lambda name, code: seen.append((name, code)))
    c.expect([_pod("a", "x", "y"), _pod("b", "z")])
    c.observe(_status("default/a", RUNNING, ContainerStatus("x", RUNNING), ContainerStatus("y")))
    assert not c.finished()
    c.observe(
        _status(
            "default/a",
            RUNNING,
            ContainerStatus("x", TERMINATED, "Completed", 0),
            ContainerStatus("y", RUNNING),
        )
    )
    c.observe(_status("default/b", SUCCEEDED, ContainerStatus("z", TERMINATED, "Completed", 0)))
    assert c.running() == ["default/a"]
    c.observe(
        _status(
            "default/a",
            FAILED,
            ContainerStatus("x", TERMINATED, "Completed", 0),
            ContainerStatus("y", TERMINATED, "Error", 2),
        )
    )
    assert c.finished()
    assert c.failed() == {"default/a/y": 2}
    assert seen == [("default/a/x", 0), ("default/b/z", 0), ("default/a/y", 2)]


def test_a_restarting_container_counts_at_its_first_exit() -> None:
    c = Completion()
    c.expect([_pod("a", "x")])
    backoff = ContainerStatus("x", WAITING, "CrashLoopBackOff", exit_code=1, restart_count=0)
    c.observe(_status("default/a", RUNNING, backoff))
    assert c.finished()
    assert c.failed() == {"default/a/x": 1}


def test_a_failed_init_container_finishes_the_pod_with_its_code() -> None:
    c = Completion()
    c.expect([_pod("a", "x")])
    init = (ContainerStatus("setup", TERMINATED, "Error", 3, init=True),)
    c.observe(_status("default/a", FAILED, ContainerStatus("x"), init=init))
    assert c.finished()
    assert c.exit_codes == {"default/a/x": 3}


def test_events_of_other_pods_and_repeats_are_ignored() -> None:
    c = Completion()
    c.expect([_pod("a", "x")])
    done = ContainerStatus("x", TERMINATED, "Completed", 0)
    c.observe(_status("default/server", RUNNING, ContainerStatus("x", TERMINATED, "Error", 9)))
    c.observe(_status("default/a", SUCCEEDED, done))
    c.observe(_status("default/a", SUCCEEDED, ContainerStatus("x", TERMINATED, "Error", 4)))
    assert c.exit_codes == {"default/a/x": 0}


def test_no_clients_is_finished_at_once() -> None:
    c = Completion()
    c.expect([])
    assert c.finished()
    c.observe(_status("default/a", PENDING))
    assert c.failed() == {}
