"""Kernel-test fixtures. Helpers live in test_sandbox_helpers.py (importable by tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_live_helpers import require_live
from test_sandbox_helpers import REPO, Driver, driver_argv, driver_env, require_kernel

SEED = REPO / "examples" / "seed" / "pod-to-service.yaml"


@pytest.fixture
def driver() -> Iterator[Driver]:
    require_kernel()
    d = Driver(driver_argv(), driver_env())
    try:
        yield d
    finally:
        d.kill()  # SIGKILL is enough: the kernel removes the cluster


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (fast, no extra space); copy when links fail."""
    done = subprocess.run(["cp", "-al", str(src), str(dst)], capture_output=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


@pytest.fixture
def world_readable_podnet() -> Iterator[Path]:
    """A world-readable directory with ``podnet`` and its dependencies side by side."""
    require_live()  # before creating anything: skip cleanly when not root
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = site / "site-packages"
    if not site.is_dir():
        pytest.skip(f"no site-packages at {site}")
    root = Path(tempfile.mkdtemp(prefix="podnet-rootless-"))
    try:
        root.chmod(0o755)
        _link_tree(site, root / "site")
        _link_tree(REPO / "podnet", root / "site" / "podnet")
        manifest = root / "seed.yaml"
        manifest.write_text(SEED.read_text())
        manifest.chmod(0o644)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
