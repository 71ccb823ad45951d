"""Tiers by directory, and the fixtures the kernel and e2e tiers share.

Each test is marked with its tier from the first directory under tests/ (``unit``,
``fake``, ``kernel``, ``e2e``), so ``pytest tests/unit`` and ``pytest -m unit`` select
the same tests. Helpers live in tests/support/.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.live import require_live
from support.paths import REPO
from support.sandbox import Driver, driver_argv, driver_env, require_kernel

# The recorded Kubernetes API (the `api` fixture of the podnet.kube unit tests).
pytest_plugins = ["support.recorded_api"]

TIERS = ("unit", "fake", "kernel", "e2e")

# A suite started in the background by a shell without job control (`cmd &` in a
# script) inherits SIGINT ignored, and so would every podnet the tests start: an ignored
# signal stays ignored across exec (POSIX), so the Ctrl-C tests would see podnet ignore
# SIGINT as a background job should. A handled signal is reset to the default on exec:
# handling it here gives the children the disposition a terminal's user gives them.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        rel = item.path.relative_to(tests).parts
        if rel and rel[0] in TIERS:
            item.add_marker(getattr(pytest.mark, rel[0]))


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
