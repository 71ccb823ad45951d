"""Helpers for the sandbox kernel tests: skip cleanly, drive a sandbox, snapshot the host.

Kernel tests need root (or a working rootless user namespace), ``ip``, ``nsenter`` and
``unshare``. Every sandbox runs in its own child process (the "podnet process" of the
lifetime design), so the test runner itself never enters a namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest

from support.paths import PYTHONPATH


def kernel_skip_reason() -> str | None:
    if sys.platform != "linux":
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "nsenter", "unshare", "nft"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


def require_kernel() -> None:
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)


class Driver:
    """A ``podnet.dataplane.sandbox.driver`` child process, one JSON line per call."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd="/",
            env=env,
        )
        hello = self._read()
        if not hello.get("ok"):
            self.kill()
            pytest.skip(f"cannot enter a sandbox: {hello}")
        self.known_pids: set[int] = set()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"driver exited with {self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def call(self, **req: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "pid" in reply:
            self.known_pids.add(reply["pid"])
        if "pids" in reply:
            self.known_pids.update(reply["pids"].values())
        return reply

    def ok(self, **req: Any) -> dict[str, Any]:
        reply = self.call(**req)
        assert reply["ok"], reply
        return reply

    def kill(self) -> None:
        """SIGKILL the driver, reap it and close our ends of its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        with self.proc:  # closes stdin/stdout, then waits
            pass


def driver_argv(python: str = sys.executable) -> list[str]:
    return [python, "-m", "podnet.dataplane.sandbox.driver"]


def driver_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": PYTHONPATH}


@dataclass(frozen=True)
class HostState:
    """What the host looks like from its own namespaces; podnet must not change it.

    Other test suites may add named netns (``ip netns add`` mounts under /run/netns)
    while these tests run, so those are left out here and checked precisely instead
    by :func:`ns_mounted` (no namespace of ours is bind-mounted anywhere).
    """

    veths: str
    ruleset: str
    routes: str
    routes6: str
    mounts: tuple[str, ...]

    @classmethod
    def take(cls) -> HostState:
        def out(*argv: str) -> str:
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        return cls(
            veths=out("ip", "-o", "link", "show", "type", "veth"),
            ruleset=out("nft", "list", "ruleset"),
            routes=out("ip", "route", "show", "table", "all"),
            routes6=out("ip", "-6", "route", "show", "table", "all"),
            mounts=tuple(sorted(p for p in points if not p.startswith("/run/netns"))),
        )


def ns_mounted(inodes: set[int]) -> list[str]:
    """Mount-table lines (host view) that pin one of ``inodes`` (``ip netns add`` does)."""
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if any(f"[{ino}]" in line for ino in inodes)]


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie holds no namespaces any more: it counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def netns_inodes(pids: set[int]) -> set[int]:
    found = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            found.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
    return found


def start_ticks(pid: int) -> int:
    """Process start time (clock ticks since boot), ``/proc/<pid>/stat`` field 22."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def now_ticks() -> int:
    """Now, in the unit of :func:`start_ticks` (boot time based, like /proc)."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def holders_of(inodes: set[int], started_before: int) -> list[int]:
    """Host pids in one of the netns ``inodes`` that started before ``started_before``.

    Namespace inode numbers are reused at once, and other suites create namespaces
    concurrently: a process started after our teardown cannot be one of ours.
    """
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                pid = int(entry)
                if (
                    os.stat(f"/proc/{entry}/ns/net").st_ino in inodes
                    and alive(pid)
                    and start_ticks(pid) < started_before
                ):
                    found.append(pid)
            except (OSError, IndexError, ValueError):
                continue
    return found


def wait_until(cond: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def run_in_pod(cluster: Any, key: str, argv: list[str], timeout: float = 10) -> tuple[int, str]:
    """Run ``argv`` in pod ``key`` of a live ``cluster`` (in a test's child process) and
    wait for it, killed after ``timeout`` seconds; (exit code, stdout and stderr)."""
    p = cluster.sandbox.spawn(key, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return int(p.returncode), out.decode(errors="replace")


def run_json_child(argv: list[str], timeout: float = 120, cwd: str = "/") -> dict[str, Any]:
    """Run a test's driver in a child process (a sandbox can be entered only once per
    process) and return the last JSON line it prints; ``{"skip": why}`` skips the test.
    The child leads its own process group, which is killed if it outlives the timeout."""
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=cwd,
    )
    with proc:  # closes the pipes however it ends
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        pytest.fail(f"child produced no result (rc={proc.returncode}):\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if result.get("skip"):
        pytest.skip(result["skip"])
    return result
