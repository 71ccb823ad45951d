"""``podnet run --shell POD``: commands piped to podnet's stdin, and a real terminal.

On the terminal (a pty that is podnet's controlling tty, as in a login session) the
test checks what a user relies on: the prompt, the pod's view of the network, and that
Ctrl-C interrupts the command in the shell without tearing the cluster down.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import termios
import time

import pytest
from support.live import podnet_argv, podnet_env, require_live, run_cli
from support.paths import REPO
from support.sandbox import HostState

pytestmark = pytest.mark.kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"


def test_shell_reads_commands_from_stdin() -> None:
    require_live()
    script = "hostname\nwget -qO- http://my-service | grep '<title>'\nexit 7\n"
    res = run_cli("run", "-f", str(SEED), "--shell", "pod-a", stdin=script)
    assert res.rc == 7, res.err
    lines = res.out.splitlines()
    assert "pod-a" in lines
    assert "<title>Welcome to nginx!</title>" in lines
    assert not any(ln.startswith("[default/") for ln in lines)  # no pod logs mixed in


def test_shell_unknown_pod_is_a_clean_error() -> None:
    require_live()
    res = run_cli("run", "-f", str(SEED), "--shell", "nope", stdin="")
    # a usage error, found in the manifests before the cluster is built (issue 15)
    assert res.rc == 2
    assert "error: --shell nope: no pod default/nope in the manifests" in res.err
    assert "cluster up" not in res.err
    assert "Traceback" not in res.err


class _Pty:
    def __init__(self, master: int) -> None:
        self.master = master
        self.seen = ""

    def expect(self, needle: str, timeout: float = 20) -> str:
        end = time.monotonic() + timeout
        while needle not in self.seen:
            left = end - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {needle!r} on the terminal; saw:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the other side closed
                    chunk = b""
                if not chunk:
                    pytest.fail(f"terminal closed before {needle!r}:\n{self.seen[-2000:]}")
                self.seen += chunk.decode(errors="replace")
        before, _, self.seen = self.seen.partition(needle)
        return before

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_shell_on_a_terminal_survives_ctrl_c() -> None:
    require_live()
    before = HostState.take()
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [*podnet_argv(), "run", "-f", str(SEED), "--shell", "pod-a"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**podnet_env(), "TERM": "dumb"},
        cwd="/",
        start_new_session=True,
        preexec_fn=_controlling_tty,
    )
    os.close(slave)
    tty = _Pty(master)
    try:
        tty.expect("default/pod-a # ")
        tty.send("hostname\n")
        assert "pod-a" in tty.expect("default/pod-a # ")
        tty.send("sleep 100\n")
        time.sleep(0.5)
        tty.send("\x03")  # Ctrl-C: reaches the shell's job, not podnet
        tty.expect("default/pod-a # ", timeout=10)
        assert proc.poll() is None, "Ctrl-C at the shell must not stop podnet"
        tty.send("wget -qO- http://my-service | grep -c 'Welcome to nginx'\n")
        assert "2" in tty.expect("default/pod-a # ")
        tty.send("exit 5\n")
        tty.expect("torn down in", timeout=30)
        assert proc.wait(timeout=30) == 5
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    assert HostState.take() == before
