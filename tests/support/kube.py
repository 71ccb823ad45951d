"""Real Kubernetes clients against ``podnet up``: the kubectl binaries the README's set-up
installs (``./dev.sh``: .tools/bin/kubectl-1.20 and kubectl-1.37, from PyPI wheels that
ship them), a running ``podnet up`` with its own kubeconfig and data dir, and waits.

``podnet up`` runs as a child in its own session (support.live.running_cli), so the test
runner never enters a namespace; every kubectl call is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from support.live import running_cli, wait_for_line
from support.paths import REPO

TOOLS = REPO / ".tools" / "bin"
KUBECTL_VERSIONS = ("1.20", "1.37")
READY_LINE = "podnet: API ready at "


def kubectl_path(version: str) -> Path:
    path = TOOLS / f"kubectl-{version}"
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} missing: ./dev.sh installs it (install_clients)")
    return path


def helm_path(version: str) -> Path:
    path = TOOLS / f"helm-{version}"
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} missing: ./dev.sh installs it (install_clients)")
    return path


@dataclass(frozen=True)
class Done:
    rc: int
    out: str
    err: str


@dataclass
class Kubectl:
    binary: Path
    kubeconfig: Path

    def __call__(self, *args: str, timeout: float = 30.0, stdin: str | None = None) -> Done:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.kubeconfig.parent),
        }
        try:
            proc = subprocess.run(
                [str(self.binary), *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=str(self.kubeconfig.parent),
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"kubectl {' '.join(args)} did not finish in {timeout}s: {e.stderr!r}")
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, timeout: float = 30.0, stdin: str | None = None) -> str:
        done = self(*args, timeout=timeout, stdin=stdin)
        assert done.rc == 0, f"kubectl {' '.join(args)} exited {done.rc}: {done.err}"
        return done.out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))


class Drain:
    """Reads a child's pipe to its end on a thread, keeping the text.

    ``podnet up`` writes to stderr while it runs (warnings, a controller's traceback);
    a pipe nobody reads holds 64 KiB, then the write blocks the thread that made it
    and with it whatever lock that thread holds: the API stops answering. Seen as
    ``probe --cluster`` runs failing on a request timeout after ~64 KiB of log."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.chunks: list[bytes] = []
        # a copy of the fd of our own: running_cli closes the pipe's at the end, and a
        # number closed under a blocked read could be reused by another file meanwhile
        self._fd = os.dup(stream.fileno()) if stream is not None else -1
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        if self._fd < 0:
            return
        try:
            while chunk := os.read(self._fd, 65536):
                self.chunks.append(chunk)
        finally:
            os.close(self._fd)

    def text(self, timeout: float = 0.0) -> str:
        """What was read; waits up to ``timeout`` for the end of the stream first."""
        self._thread.join(timeout)
        return b"".join(self.chunks).decode(errors="replace")


@dataclass
class UpCluster:
    proc: subprocess.Popen[str]
    kubeconfig: Path
    data_dir: Path
    server: str
    startup_lines: list[str]
    stderr: Drain | None = None  # up's stderr after the ready line (read as it comes)
    stdout: Drain | None = None

    def kubectl(self, version: str) -> Kubectl:
        return Kubectl(kubectl_path(version), self.kubeconfig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, str]:
        """Signal ``podnet up`` and wait for its teardown; (exit code, rest of stderr)."""
        self.proc.send_signal(sig)
        if self.stderr is None:
            _, err = self.proc.communicate(timeout=timeout)
            return self.proc.returncode, err
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.stderr.text(timeout)


@contextlib.contextmanager
def podnet_up(tmp: Path, *args: str, data_dir: Path | None = None) -> Iterator[UpCluster]:
    """``podnet up --kubeconfig TMP/kubeconfig --data-dir TMP/data ARGS`` until ready."""
    kubeconfig = tmp / "kubeconfig"
    data = data_dir or tmp / "data"
    argv = ["up", "--kubeconfig", str(kubeconfig), "--data-dir", str(data), *args]
    with running_cli(*argv) as proc:
        lines = wait_for_line(proc.stderr, READY_LINE, 30)
        match = re.search(r"(https://\S+)", lines[-1])
        assert match, lines
        yield UpCluster(
            proc, kubeconfig, data, match.group(1), lines, Drain(proc.stderr), Drain(proc.stdout)
        )


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (returned); fail after ``timeout``."""
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"not within {timeout}s: {what} (last: {last!r})")
