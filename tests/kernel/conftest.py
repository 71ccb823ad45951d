"""Kernel-test fixtures. Helpers live in test_sandbox_helpers.py (importable by tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_sandbox_helpers import Driver, driver_argv, driver_env, require_kernel


@pytest.fixture
def driver() -> Iterator[Driver]:
    require_kernel()
    d = Driver(driver_argv(), driver_env())
    try:
        yield d
    finally:
        d.kill()  # SIGKILL is enough: the kernel removes the cluster
