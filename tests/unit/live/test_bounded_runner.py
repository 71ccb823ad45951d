"""BoundedFrequencyRunner pacing and coalescing, on an injected clock (no sleeping):
the semantics of kube-proxy's pkg/util/async/bounded_frequency_runner.go, burst 1."""

from __future__ import annotations

import threading

import pytest

from podnet.live.bounded_runner import BoundedFrequencyRunner


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    min_interval: float = 1.0, max_interval: float = 10.0
) -> tuple[BoundedFrequencyRunner, Clock, list[float]]:
    clock = Clock()
    calls: list[float] = []
    runner = BoundedFrequencyRunner(
        "t", lambda: calls.append(clock.now), min_interval, max_interval, clock
    )
    return runner, clock, calls


def test_the_first_request_runs_at_once() -> None:
    runner, _, calls = make()
    assert not runner.step()  # nothing asked, the periodic run is not due
    runner.run()
    assert runner.due_in() <= 0
    assert runner.step()
    assert calls == [100.0]


def test_many_requests_coalesce_into_one_run() -> None:
    runner, _, calls = make()
    for _ in range(50):
        runner.run()
    assert runner.step()
    assert not runner.step()  # the 50 requests were all served by that one run
    assert len(calls) == 1 and runner.runs == 1


def test_runs_are_at_least_min_interval_apart() -> None:
    runner, clock, calls = make(min_interval=1.0)
    runner.run()
    runner.step()
    clock.now += 0.25
    runner.run()
    runner.run()
    assert runner.due_in() == pytest.approx(0.75)
    assert not runner.step()
    clock.now += 0.74
    assert not runner.step()
    clock.now += 0.01
    assert runner.step()
    assert calls == [100.0, pytest.approx(101.0)]


def test_a_request_made_during_a_run_gets_a_run_of_its_own() -> None:
    clock = Clock()
    calls: list[float] = []
    box: list[BoundedFrequencyRunner] = []

    def fn() -> None:
        calls.append(clock.now)
        if len(calls) == 1:
            box[0].run()  # a change arrives while the sync works

    runner = BoundedFrequencyRunner("t", fn, 1.0, 10.0, clock)
    box.append(runner)
    runner.run()
    runner.step()
    assert runner.due_in() == pytest.approx(1.0)
    clock.now += 1.0
    assert runner.step()
    assert len(calls) == 2


def test_max_interval_runs_without_a_request() -> None:
    runner, clock, calls = make(min_interval=1.0, max_interval=10.0)
    clock.now += 9.99
    assert not runner.step()
    clock.now += 0.01  # counted from construction before the first run
    assert runner.step()
    clock.now += 9.0
    assert not runner.step()
    assert runner.due_in() == pytest.approx(1.0)
    clock.now += 1.0  # then from the last run
    assert runner.step()
    assert len(calls) == 2


def test_step_lets_the_functions_error_through_and_still_counts_the_run() -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    runner = BoundedFrequencyRunner("t", fail, 1.0, 10.0, Clock())
    runner.run()
    with pytest.raises(RuntimeError):
        runner.step()
    assert runner.runs == 1
    assert not runner.step()  # the request was consumed; the periodic run retries


@pytest.mark.parametrize(("lo", "hi"), [(-1.0, 1.0), (2.0, 1.0)])
def test_bad_intervals_are_refused(lo: float, hi: float) -> None:
    with pytest.raises(ValueError):
        BoundedFrequencyRunner("t", lambda: None, lo, hi)


def test_the_thread_runs_on_request_survives_errors_and_stops() -> None:
    ran = threading.Event()
    calls: list[int] = []

    def fn() -> None:
        calls.append(1)
        ran.set()
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    runner = BoundedFrequencyRunner("podnet-test-runner", fn, 0.0, 60.0)
    runner.start()
    runner.run()
    assert ran.wait(10)
    ran.clear()
    runner.run()  # the thread outlived the first run's error
    assert ran.wait(10)
    assert runner.stop()
    assert runner.errors == 1
    assert not any(t.name == "podnet-test-runner" for t in threading.enumerate())
    runner.run()  # ignored after stop: nothing runs it
    assert len(calls) == 2


def test_rest_spaces_runs_by_their_own_cost() -> None:
    """A run that took 0.5 s is followed by at least rest * 0.5 s without a run."""
    clock = Clock()
    calls: list[float] = []

    def slow() -> None:
        calls.append(clock.now)
        clock.now += 0.5

    runner = BoundedFrequencyRunner("t", slow, 0.02, 10.0, clock, rest=2.0)
    runner.run()
    assert runner.step()  # 100.0 .. 100.5
    runner.run()
    assert runner.due_in() == pytest.approx(1.0)  # ends 100.5, rests 2 * 0.5 s
    clock.now += 0.99
    assert not runner.step()
    clock.now += 0.01
    assert runner.step()
    assert calls == [100.0, 101.5]
    with pytest.raises(ValueError):
        BoundedFrequencyRunner("t", slow, 0.02, 10.0, clock, rest=-1.0)
