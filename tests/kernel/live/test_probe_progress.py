"""``podnet probe`` shows a progress bar for its probes on a terminal and nothing off one
(issue 15: "long work shows progress ... probing thousands of pairs")."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import time

from support.live import podnet_argv, podnet_env, require_live
from support.paths import REPO

SEED = str(REPO / "examples" / "seed" / "pod-to-service.yaml")


def _on_a_pty(argv: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run ``argv`` with a pty as stdout and stderr; its exit code and everything shown."""
    master, slave = pty.openpty()
    env = {**podnet_env(), "TERM": "xterm"}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(timeout=max(end - time.monotonic(), 1)), b"".join(chunks).decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_probe_draws_a_bar_on_a_terminal_and_counts_to_the_total() -> None:
    require_live()
    rc, shown = _on_a_pty([*podnet_argv(), "probe", "-f", SEED])
    assert rc == 0, shown
    counts = re.findall(r"probes \[[#-]+\] (\d+)/(\d+)", shown)
    assert counts, shown
    done, total = counts[-1]
    assert done == total and int(total) >= 1, counts


def test_probe_draws_no_bar_off_a_terminal() -> None:
    require_live()
    proc = subprocess.run(
        [*podnet_argv(), "probe", "-f", SEED],
        capture_output=True,
        text=True,
        timeout=60,
        env=podnet_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[K" not in proc.stderr and "probes [" not in proc.stderr
