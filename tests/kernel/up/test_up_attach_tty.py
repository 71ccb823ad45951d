"""``kubectl attach -it`` and ``kubectl run -it --rm`` against ``podnet up``, with kubectl
1.20 (SPDY) and 1.37 (WebSocket), driven through a real pty as a user's terminal: a
``tty: true`` container has a terminal from its start (crun's console socket), attach
types into it, reads the prompt, resizes it (``stty size`` sees the new size), and the
terminal's output is also the container's log, as with CRI runtimes."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import termios
import time
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, eventually, kubectl_path, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel


def kubectl_pty(up: UpCluster, version: str, *args: str) -> Pty:
    """kubectl ARGS on a terminal of its own, against ``up``."""
    env = {
        **os.environ,
        "KUBECONFIG": str(up.kubeconfig),
        "HOME": str(up.kubeconfig.parent),
        "TERM": "xterm",
    }
    return Pty([str(kubectl_path(version)), *args], env)


class Pty:
    """A program run in a fresh pty whose slave is its controlling terminal (``setsid
    --ctty``), as in a user's shell; the test plays the user on the master."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        setsid = shutil.which("setsid")
        if setsid is None:
            pytest.skip("setsid (util-linux) missing")
        self.master, slave = os.openpty()
        self.resize(24, 80)
        self.proc = subprocess.Popen(
            [setsid, "--ctty", *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        self.seen = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, want: str, timeout: float = 20.0, after: int = 0) -> str:
        """Read until ``want`` shows past offset ``after`` of what was seen (everything
        seen so far is returned)."""
        end = time.monotonic() + timeout
        while want.encode() not in self.seen[after:]:
            left = end - time.monotonic()
            if left <= 0:
                pytest.fail(f"{want!r} not seen in {timeout}s; seen: {self.seen[-600:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: kubectl is gone
                data = b""
            if not data:
                pytest.fail(f"{want!r} never came, kubectl ended; seen: {self.seen[-600:]!r}")
            self.seen += data
        return self.seen.decode(errors="replace")

    def finish(self, timeout: float = 30.0) -> int:
        """kubectl's exit code; what it still printed is read on."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                if data:
                    self.seen += data
                    continue
            if self.proc.poll() is not None:
                break
        return self.proc.wait(timeout=5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up-attach-tty")) as cluster:
        pods = [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": _shell(v)},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "c",
                            "image": "busybox",
                            "command": ["sh"],
                            "stdin": True,
                            "tty": True,
                        }
                    ],
                },
            }
            for v in KUBECTL_VERSIONS
        ]
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok(
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}),
        )
        names = [f"pod/{_shell(v)}" for v in KUBECTL_VERSIONS]
        k.ok("wait", "--for=condition=Ready", *names, "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _shell_sees_size(term: Pty, rows: int, cols: int, timeout: float = 20.0) -> None:
    """``stty size`` in the shell until it shows the terminal's new size: the resize
    travels (kubectl's SIGWINCH handler, the resize channel, the container's console)
    apart from the typed keys, so a command typed at once may still see the old size,
    as on any cluster."""
    end = time.monotonic() + timeout
    while True:
        mark = len(term.seen)
        term.type("stty size\r")
        term.expect("\n/ # ", after=mark + len("stty size"))
        if f"\n{rows} {cols}\r".encode() in term.seen[mark:]:
            return
        if time.monotonic() > end:
            pytest.fail(f"the shell never saw {rows}x{cols}: {term.seen[-600:]!r}")
        time.sleep(0.2)


def _shell(version: str) -> str:
    return f"shell-{version.replace('.', '-')}"


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_attach_it_prompt_commands_resize(version: str, up: UpCluster) -> None:
    name = _shell(version)
    term = kubectl_pty(up, version, "attach", "-it", name)
    try:
        term.expect("If you don't see a command prompt, try pressing enter.")
        term.type("\r")
        term.expect("/ # ")
        term.type("echo tty-$((6*7)) $(hostname); tty\r")
        seen = term.expect(f"tty-42 {name}")
        term.expect("/dev/pts/0")  # the container's own devpts: its console
        assert "$((6*7))" in seen  # the terminal echoed what was typed
        for rows, cols in ((31, 97), (40, 120)):
            term.resize(rows, cols)
            _shell_sees_size(term, rows, cols)
    finally:
        term.close()  # kubectl killed: the session ends, the shell stays
    k = up.kubectl(version)
    # the terminal's output is the container's log too (CRI logs a tty's output)
    eventually(lambda: f"tty-42 {name}" in k.ok("logs", name), what="the session in the log")
    pod = k.json("get", "pod", name)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    # a second attach reaches the same shell
    again = kubectl_pty(up, version, "attach", "-it", name)
    try:
        again.expect("press")
        again.type("echo again-$((5*5))\r")
        again.expect("again-25")
    finally:
        again.close()


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_run_it_rm_shell_ctrl_d(version: str, up: UpCluster) -> None:
    name = f"run-{version.replace('.', '-')}"
    term = kubectl_pty(up, version, "run", name, "-it", "--rm", "--image=busybox", "--", "sh")
    try:
        term.expect("press")
        term.type("\r")
        term.expect("/ # ")
        term.type("echo run-$((7*6))\r")
        term.expect("run-42")
        mark = term.seen.index(b"run-42")
        # Ctrl-D once the shell prompts again, as a user does: busybox's line editor
        # reads keys in raw mode only while it prompts; a ^D that comes while the
        # command runs meets the tty in canonical mode, which turns it into a NUL the
        # editor then ignores (Linux n_tty: EOF_CHAR is stored as __DISABLED_CHAR), and
        # the shell never exits
        term.expect("/ # ", after=mark)
        term.type("\x04")  # Ctrl-D: the shell exits, kubectl deletes the pod
        rc = term.finish()
        out = term.seen.decode(errors="replace")
        assert rc == 0, out
        assert f'pod "{name}" deleted' in out
    finally:
        term.close()
    k = up.kubectl(version)
    eventually(lambda: k("get", "pod", name).rc != 0, timeout=40, what=f"pod {name} deleted")


def test_attach_t_to_a_container_without_tty_follows_output(up: UpCluster) -> None:
    """kubectl's own check: -t to a container without a terminal is dropped with a
    warning (attach.go "Unable to use a TTY"), and the output still comes."""
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    k.ok(
        "run",
        "plain",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.2; done",
    )
    k.ok("wait", "--for=condition=Ready", "pod/plain", "--timeout=60s", timeout=70)
    term = kubectl_pty(up, KUBECTL_VERSIONS[-1], "attach", "-t", "plain")
    try:
        seen = term.expect("tick")
        assert "Unable to use a TTY" in seen
    finally:
        term.close()
