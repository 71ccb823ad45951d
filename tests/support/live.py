"""Helpers for the ``podnet run`` kernel tests: run the real CLI, read its output, and
find every process it started so a test can prove none survives.

Every cluster runs in a child process (the CLI, or a driver script): the test runner
itself never enters a namespace. Children are started in a new session and killed by
their process group's id on any failure; the cluster dies with its podnet process.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from support.paths import PYTHONPATH, REPO
from support.sandbox import alive, kernel_skip_reason, start_ticks

VENV_PODNET = REPO / ".venv" / "bin" / "podnet"


def require_live() -> None:
    reason = kernel_skip_reason()
    if reason is None:
        for tool in ("busybox", "nginx"):
            if not any(os.path.exists(f"{d}/{tool}") for d in ("/bin", "/usr/sbin", "/sbin")):
                reason = f"needs {tool}"
    if reason:
        pytest.skip(reason)


def podnet_argv() -> list[str]:
    """The real CLI: the venv's console script, else this interpreter with -m podnet."""
    if VENV_PODNET.exists():
        return [str(VENV_PODNET)]
    return [sys.executable, "-m", "podnet"]


def podnet_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": PYTHONPATH}


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str

    def pod_lines(self, prefix: str) -> list[str]:
        """Output lines of the pod (or pod/container) ``prefix``, without the prefix."""
        tag = f"[{prefix}] "
        return [ln[len(tag) :] for ln in self.out.splitlines() if ln.startswith(tag)]


def write_manifest(tmp: Path, text: str, name: str = "cluster.yaml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def run_cli(*args: str, timeout: float = 60.0, stdin: str | None = None) -> Result:
    """``podnet ARGS`` to completion (killed with its group after ``timeout``)."""
    proc = subprocess.Popen(
        [*podnet_argv(), *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=podnet_env(),
        cwd="/",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        pytest.fail(f"podnet {' '.join(args)} did not finish in {timeout}s:\n{err[-3000:]}")
    return Result(proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def running_cli(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A ``podnet ARGS`` child left running for the test; killed (group) at the end."""
    proc = subprocess.Popen(
        [*podnet_argv(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=podnet_env(),
        cwd="/",
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill_group(proc)
        with proc:  # closes our ends of its pipes
            pass


# What a wait_for_line read past the line it returned at: the lines after it in the same
# read and a partial last line, handed to the next call on the same stream.
_UNREAD: weakref.WeakKeyDictionary[IO[str], bytes] = weakref.WeakKeyDictionary()


def wait_for_line(stream: IO[str] | None, needle: str, timeout: float) -> list[str]:
    """Read ``stream`` (a text pipe) until a line containing ``needle``; lines read. What
    was read past that line is kept for the next call on the same stream."""
    import select

    assert stream is not None, "the child's stream is not a pipe"
    fd = stream.fileno()
    seen: list[str] = []
    end = time.monotonic() + timeout
    buf = _UNREAD.pop(stream, b"")
    eof = False
    while True:
        *lines, rest = buf.split(b"\n")
        for i, raw in enumerate(lines):
            line = raw.decode(errors="replace")
            seen.append(line)
            if needle in line:
                _UNREAD[stream] = b"\n".join([*lines[i + 1 :], rest])
                return seen
        buf = rest
        if eof or time.monotonic() >= end:
            break
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            eof = True
        buf += chunk
    _UNREAD[stream] = buf
    pytest.fail(f"no line with {needle!r} within {timeout}s; saw:\n" + "\n".join(seen[-40:]))


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of ``root`` (host pids) with its start time, which tells a
    reused pid from ours later."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            with contextlib.suppress(OSError, IndexError, ValueError):
                found[child] = start_ticks(child)
                todo.append(child)
    return found


def survivors(started: dict[int, int]) -> list[int]:
    """The pids of ``started`` that still run as the same process."""
    out = []
    for pid, ticks in started.items():
        with contextlib.suppress(OSError, IndexError, ValueError):
            if alive(pid) and start_ticks(pid) == ticks:
                out.append(pid)
    return sorted(out)


def wait_gone(started: dict[int, int], timeout: float = 5.0) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not survivors(started):
            return []
        time.sleep(0.05)
    return survivors(started)


# A client pod that resolves the cluster DNS Service ten times a second and says how it went.
DNS_LOOKUP_CLIENT = """\
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command:
    - sh
    - -c
    - |
      while true; do
        if nslookup kube-dns.kube-system.svc.cluster.local >/dev/null 2>&1
        then echo lookup-ok; else echo lookup-failed; fi
        sleep 0.1
      done
"""


def argv_of(pid: int) -> list[bytes]:
    """``pid``'s argv from /proc (empty if it is gone): processes are found by pid in
    the run's own tree, never by name."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return []


def drain(stream: IO[str] | None) -> None:
    """Discard what the child wrote so far, so later reads see only newer lines."""
    assert stream is not None
    fd = stream.fileno()
    while select.select([fd], [], [], 0.05)[0]:
        if not os.read(fd, 65536):
            return
