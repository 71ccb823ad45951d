"""What a stopped or killed podnet left behind, for the tests that prove it left nothing."""

from __future__ import annotations

import os
from pathlib import Path


def host_mounts_under(path: Path) -> list[str]:
    """Mount points of this (the host's) mount namespace under ``path``."""
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if str(path) in line]


def what_is_left(path: Path) -> str:
    """For a failure message: the paths still under ``path`` and any host mount there."""
    left = sorted(os.path.join(r, n) for r, ds, fs in os.walk(path) for n in [*ds, *fs])
    return f"{len(left)} path(s) under {path}: {left[:15]}; host mounts: {host_mounts_under(path)}"
