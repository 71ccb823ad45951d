"""The cluster's scratch directory: on a tmpfs, and stale ones of dead podnets removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from podnet.live.statedir import base_dir, make_state_dir, pid_alive, remove_stale


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_base_dir_prefers_the_runtime_dir(tmp_path: Path) -> None:
    assert base_dir({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path
    fallback = base_dir({"XDG_RUNTIME_DIR": str(tmp_path / "missing")})
    assert fallback.is_dir() and os.access(fallback, os.W_OK)


def test_only_dead_podnets_dirs_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    assert not pid_alive(dead)
    stale = tmp_path / f"podnet-{dead}-abc_123"
    stale.mkdir()
    (stale / "dns-records.json").write_text("{}")
    live = tmp_path / f"podnet-{os.getppid()}-xyz"  # our parent: alive
    live.mkdir()
    other = tmp_path / f"podnet-{dead}-x.y"  # not a name we create
    other.mkdir()
    afile = tmp_path / f"podnet-{dead}-file"
    afile.write_text("")
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / f"podnet-{dead}-link"
    link.symlink_to(target)
    assert remove_stale(tmp_path) == [stale]
    assert not stale.exists()
    for kept in (live, other, afile, link, target):
        assert kept.exists() or kept.is_symlink()


def test_make_state_dir_is_private_and_named_after_us(tmp_path: Path) -> None:
    d = make_state_dir(tmp_path)
    try:
        path = Path(d.name)
        assert path.parent == tmp_path
        assert path.name.startswith(f"podnet-{os.getpid()}-")
        assert path.stat().st_mode & 0o777 == 0o700
        assert remove_stale(tmp_path) == []  # our own pid is alive
    finally:
        d.cleanup()
    assert not Path(d.name).exists()
