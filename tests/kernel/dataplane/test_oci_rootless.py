"""The escapes of test_oci_escape.py, tried in a rootless cluster (podnet as ``nobody``).

Rootless podnet lives in a user namespace mapping uid 0 to the user; its pods are
containers under crun inside it, with the same isolation as rootful ones. The run uses
the system Python with podnet and its dependencies in one world-readable directory
(the ``world_readable_podnet`` fixture, as test_live_rootless.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.live import require_live
from test_oci_escape import FORBIDDEN, _manifest, _results

pytestmark = pytest.mark.kernel

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534


def test_rootless_attacker_gets_nothing(world_readable_podnet: Path) -> None:
    require_live()
    setpriv = shutil.which("setpriv")
    if setpriv is None or not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip("needs setpriv and the system python3")
    root = world_readable_podnet
    hostfile = root / "host-only"
    hostfile.write_text("secret")
    hostfile.chmod(0o644)  # readable by nobody on the host: the pod still cannot see it
    manifest = root / "attack.yaml"
    manifest.write_text(_manifest("podnet-rootless-escape", str(hostfile)))
    manifest.chmod(0o644)
    nobody = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    res = subprocess.run(
        [*nobody, SYSTEM_PYTHON, "-m", "podnet", "run", "-f", str(manifest), "--timeout", "40"],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(root / "site")},
        cwd=str(root),
        capture_output=True,
        text=True,
        timeout=90,
    )
    if "cannot create the cluster namespaces" in res.stderr:
        pytest.skip(f"no unprivileged user namespaces here: {res.stderr[-300:]}")
    tag = "[default/attacker] "
    lines = [ln[len(tag) :] for ln in res.stdout.splitlines() if ln.startswith(tag)]
    got = _results(lines)
    assert got.get("found") == "0", res.stdout + res.stderr
    failed = {k: v for k, v in got.items() if k not in ("victim_seen", "found") and v == "0"}
    assert failed == {}, f"escapes that worked: {failed}\n{res.stdout}"
    assert got["victim_seen"] == "0"
    status = {ln.split(":")[0]: ln.split(":")[1].strip() for ln in lines if ":\t" in ln}
    eff = int(status["CapEff"], 16)
    assert {n for n, bit in FORBIDDEN.items() if eff >> bit & 1} == set()
    assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1"
