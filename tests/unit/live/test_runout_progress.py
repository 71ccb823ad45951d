"""The one-line progress bar: drawn on a terminal only, rate-limited, cleared for others."""

from __future__ import annotations

import io

import pytest

from podnet.live.progress import MIN_REDRAW, ProgressBar, render, terminal


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("done", "total", "want"),
    [
        (0, 4, "pods [--------] 0/4 1.5s"),
        (1, 4, "pods [##------] 1/4 1.5s"),
        (4, 4, "pods [########] 4/4 1.5s"),
        (9, 4, "pods [########] 9/4 1.5s"),
        (0, None, "pods 1.5s"),
        (7, None, "pods 7 1.5s"),
    ],
)
def test_render(done: int, total: int | None, want: str) -> None:
    assert render("pods", done, total, 1.5, width=8) == want


def test_a_pipe_is_no_terminal_and_gets_nothing() -> None:
    buf = io.StringIO()
    assert not terminal(buf)
    bar = ProgressBar(buf)
    bar.start("x", 3)
    bar.update(2)
    with bar.above():
        buf.write("line\n")
    bar.close()
    assert buf.getvalue() == "line\n"


def test_redraws_are_rate_limited_and_the_end_is_always_drawn() -> None:
    buf, clock = io.StringIO(), _Clock()
    bar = ProgressBar(buf, enabled=True, clock=clock)
    bar.start("x", 3)
    draws = buf.getvalue().count("\r\x1b[Kx [")
    bar.update(1)  # too soon after start: not drawn
    assert buf.getvalue().count("\r\x1b[Kx [") == draws
    clock.now = MIN_REDRAW
    bar.update(2)
    assert buf.getvalue().endswith("2/3 0.1s")
    bar.update(3)  # the last step is drawn at once
    assert buf.getvalue().endswith("3/3 0.1s")


def test_above_clears_then_draws_again_later() -> None:
    buf, clock = io.StringIO(), _Clock()
    bar = ProgressBar(buf, enabled=True, clock=clock)
    bar.start("x", 2)
    with bar.above():
        buf.write("a line\n")
    assert buf.getvalue().endswith("\r\x1b[Ka line\n")  # cleared; redraw waits
    clock.now = 1.0
    bar.refresh()
    assert buf.getvalue().endswith("\r\x1b[Kx [" + "-" * 24 + "] 0/2 1.0s")
    bar.close()
    assert buf.getvalue().endswith("\r\x1b[K")
