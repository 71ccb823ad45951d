"""Where the tests find the repository, the shared conformance data and their own cases."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
# ../shared beside the repository (as the workplace lays it); PODNET_SHARED overrides.
SHARED = Path(os.environ.get("PODNET_SHARED") or REPO.parent / "shared")
# The upstream NetworkPolicy e2e truth tables.
SHARED_CASES = SHARED / "conformance" / "netpol-e2e"
# podnet's own NetworkPolicy truth tables, in the upstream case format.
CASES = TESTS / "conformance" / "cases"
# The network-policy-api conformance tests (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
# ClusterNetworkPolicy), transcribed into the same format (that directory's README.md).
NPAPI_CASES = TESTS / "conformance" / "network-policy-api"
# For a test's child process: podnet and the test helpers importable from anywhere.
PYTHONPATH = os.pathsep.join([str(REPO), str(TESTS)])


def conformance_cases(*, extra_dirs_env: str | None = None) -> list[Path]:
    """The policy truth tables: ../shared's upstream cases, podnet's own, and the
    network-policy-api conformance cases.

    ``extra_dirs_env`` names an environment variable holding more directories
    (``dir1:dir2``), as ``PODNET_CONFORMANCE_DIR`` does for the engine's tests.
    """
    dirs = [SHARED_CASES, CASES, NPAPI_CASES]
    if extra_dirs_env:
        dirs += [Path(d) for d in os.environ.get(extra_dirs_env, "").split(":") if d]
    return sorted(p for d in dirs if d.is_dir() for p in d.glob("*.yaml"))


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"
