"""The runtime's single-threaded loop: timers, process exits and output lines."""

from __future__ import annotations

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
