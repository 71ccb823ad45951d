"""execs.sealed_program: the sealed in-memory copy ``crun exec`` runs from."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from podnet.dataplane import execs

SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def _program() -> str:
    path = shutil.which("true")
    if path is None:
        pytest.skip("no true(1)")
    return os.path.realpath(path)


def test_copy_is_sealed_as_crun_checks_and_runs() -> None:
    path = _program()
    fd = execs.sealed_program(path)
    assert fd is not None
    # exactly crun's CRUN_MEMFD_SEALS (cloned_binary.c is_self_cloned compares with ==)
    assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) == SEALS
    assert os.get_inheritable(fd) is False  # only a child given pass_fds gets it
    with pytest.raises(PermissionError):
        os.write(fd, b"x")
    assert os.fstat(fd).st_size == os.stat(path).st_size
    done = subprocess.run([f"/proc/self/fd/{fd}"], pass_fds=(fd,), check=False)
    assert done.returncode == 0
    assert execs.sealed_program(path) == fd  # made once per process


def test_no_copy_of_what_cannot_run(tmp_path: Path) -> None:
    assert execs.sealed_program(str(tmp_path / "missing")) is None
    script = tmp_path / "fails"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    assert execs.sealed_program(str(script)) is None  # its --version probe failed


def test_crun_runs_from_its_copy_without_copying_itself() -> None:
    crun, strace = shutil.which("crun"), shutil.which("strace")
    if crun is None or strace is None:
        pytest.skip("crun or strace is not installed")
    fd = execs.sealed_program(crun)
    assert fd is not None
    # crun re-executes itself when its binary is not sealed (strace shows the execveat);
    # run from the copy, /proc/self/exe of the crun process is the memfd
    done = subprocess.run(
        [strace, "-f", "-e", "trace=execve,execveat", f"/proc/self/fd/{fd}", "--version"],
        pass_fds=(fd,),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "execveat" not in done.stderr
    if os.statvfs(crun).f_flag & os.ST_RDONLY:
        return  # crun on a read-only filesystem trusts itself and never re-executes
    plain = subprocess.run(
        [strace, "-f", "-e", "trace=execve,execveat", crun, "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "execveat" in plain.stderr  # the re-execution the copy saves
