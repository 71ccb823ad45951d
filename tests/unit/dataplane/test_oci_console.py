"""The console socket (a container's terminal master handed over as crun does it,
SCM_RIGHTS on a unix socket) and ``process.terminal`` in the rendered config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podnet.dataplane.oci.console import ConsoleSocket
from podnet.dataplane.oci.crun import OciBinary
from podnet.dataplane.oci.spec import ContainerConfig, render
from podnet.errors import PodRuntimeError

# what crun does with --console-socket: connect, send the pty master, keep the slave
SENDER = """
import array, os, socket, sys
master, slave = os.openpty()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendmsg([b"console"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
s.close()
os.close(master)
os.write(slave, b"hello from the slave\\n")
sys.stdin.read()  # the terminal stays until told to go
"""


def test_the_master_arrives_and_carries_the_slaves_output(tmp_path: Path) -> None:
    console = ConsoleSocket(tmp_path / "console.sock")
    proc = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(console.path)], stdin=subprocess.PIPE
    )
    try:
        master = console.receive(proc, timeout=10)
        try:
            assert not os.get_blocking(master) and not os.get_inheritable(master)
            os.set_blocking(master, True)
            assert os.read(master, 100).startswith(b"hello from the slave")
        finally:
            os.close(master)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
        console.close()
    assert not console.path.exists()


def test_a_runtime_that_ends_first_is_an_error(tmp_path: Path) -> None:
    console = ConsoleSocket(tmp_path / "console.sock")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        with pytest.raises(PodRuntimeError, match="ended before it sent the terminal"):
            console.receive(proc, timeout=10)
    finally:
        proc.wait()
        console.close()


def test_a_path_too_long_for_a_unix_socket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PodRuntimeError, match="too long"):
        ConsoleSocket(tmp_path / ("x" * 120))


def test_terminal_in_the_config_and_the_run_argv(tmp_path: Path) -> None:
    cfg = ContainerConfig(args=("sh",), env=(), root="/r")
    assert render(cfg)["process"]["terminal"] is False
    cfg = ContainerConfig(args=("sh",), env=(), root="/r", terminal=True)
    assert render(cfg)["process"]["terminal"] is True
    crun = OciBinary("/usr/bin/crun", tmp_path)
    argv = crun.run_argv(tmp_path / "b", "id", tmp_path / "c.sock")
    assert argv[argv.index("run") + 1 : argv.index("run") + 3] == [
        "--console-socket",
        str(tmp_path / "c.sock"),
    ]
    assert "--console-socket" not in crun.exec_argv(tmp_path / "p.json", "id")
