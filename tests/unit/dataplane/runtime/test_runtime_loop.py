"""The runtime's single-threaded loop: timers, process exits and output lines."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from podnet.dataplane.runtime.loop import Loop
from podnet.dataplane.runtime.proc import ProcWatch


def test_timers_run_in_due_order_and_cancel() -> None:
    loop = Loop()
    seen: list[str] = []
    loop.call_later(0.05, lambda: seen.append("b"))
    loop.call_later(0.0, lambda: seen.append("a"))
    loop.call_later(0.02, lambda: seen.append("x")).cancel()
    assert loop.run_until(lambda: len(seen) == 2, 2.0)
    loop.run_until(lambda: False, 0.1)
    assert seen == ["a", "b"]
    loop.close()


def test_output_lines_come_before_the_exit() -> None:
    loop = Loop()
    events: list[str] = []
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdout.write('one\\ntwo\\nno-newline'); sys.exit(7)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    ProcWatch(loop, proc, lambda rc: events.append(f"exit {rc}"), events.append)
    assert loop.run_until(lambda: any(e.startswith("exit") for e in events), 10)
    loop.run_until(lambda: "no-newline" in events, 2)
    assert events.index("two") < events.index("exit 7")
    assert events[:2] == ["one", "two"] and "no-newline" in events
    loop.close()


def test_run_until_times_out() -> None:
    loop = Loop()
    assert not loop.run_until(lambda: False, 0.05)
    loop.close()


def test_a_pipe_still_open_at_close_is_closed_by_the_loop() -> None:
    """A process that exits while a child of its own still holds its output (no EOF
    yet): the pipe is closed when the loop closes, not left to the garbage collector
    (the unit tier's intermittent "unclosed file <_io.FileIO ... mode='rb'>")."""
    loop = Loop()
    exits: list[int] = []
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 3 & exit 0"], stdout=subprocess.PIPE, start_new_session=True
    )
    watch = ProcWatch(loop, proc, exits.append, lambda line: None)
    assert loop.run_until(lambda: exits == [0], 10)
    assert proc.stdout is not None and not proc.stdout.closed  # the sleep holds it
    loop.close()
    assert proc.stdout.closed
    assert watch._out is None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the sleep: started here, ended here


def test_a_closed_pipe_leaves_no_closer_behind() -> None:
    loop = Loop()
    exits: list[int] = []
    proc = subprocess.Popen(["true"], stdout=subprocess.PIPE)
    ProcWatch(loop, proc, exits.append, lambda line: None)
    assert loop.run_until(lambda: exits == [0], 10)
    loop.run_until(lambda: proc.stdout is not None and proc.stdout.closed, 5)
    assert loop._closers == []
    loop.close()
