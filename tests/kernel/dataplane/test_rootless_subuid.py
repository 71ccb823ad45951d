"""Rootless podnet with a subordinate id range: ``runAsUser`` works inside it (kernel).

podnet runs as ``nobody`` (``setpriv``, as test_oci_rootless.py) in a private mount
namespace where /etc/subuid and /etc/subgid are bind-mounted from temporary files:
the host's files are never written, and the binds vanish with the run. newuidmap and
newgidmap (Debian package uidmap, set-uid root) read those files there, as they would
the host's. One run grants ``nobody`` 65536 ids: a pod with runAsUser/runAsGroup/
supplementalGroups runs as them, a root pod still runs, an id past the range is refused
(CreateContainerConfigError naming the range). One run grants nothing: a non-zero user
is refused with a message naming /etc/subuid, and root pods run as before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.live import Result, require_live
from support.sandbox import HostState

from podnet.dataplane import netns

pytestmark = pytest.mark.kernel

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534
RANGE_START, RANGE_COUNT = 231072, 65536  # host ids no account of this machine uses

PROBE = (
    'echo "ids=$(id -u):$(id -g)"; echo "groups=$(id -G)"; '
    "touch /tmp/x && echo tmp=$(stat -c %u:%g /tmp/x); "
    "echo map=$(tail -n 1 /proc/self/uid_map | tr -s ' ' ' ')"
)


def _pod(name: str, pod_sc: dict[str, object] | None) -> dict[str, object]:
    spec: dict[str, object] = {
        "restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", PROBE]}],
    }
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _private_etc(subuid: Path, subgid: Path) -> None:
    """preexec_fn (as root, before setpriv): a mount namespace of the child's own whose
    /etc/subuid and /etc/subgid are the test's files."""
    netns.unshare(netns.CLONE_NEWNS)
    netns.mount(None, "/", None, netns.MS_REC | netns.MS_PRIVATE)
    netns.mount(str(subuid), netns.SUBUID, None, netns.MS_BIND)
    netns.mount(str(subgid), netns.SUBGID, None, netns.MS_BIND)


def _run_as_nobody(root: Path, grant: str, docs: list[dict[str, object]]) -> Result:
    setpriv = shutil.which("setpriv")
    if setpriv is None or not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip("needs setpriv and the system python3")
    if not (os.path.isfile(netns.SUBUID) and os.path.isfile(netns.SUBGID)):
        pytest.skip("needs /etc/subuid and /etc/subgid to bind over (package passwd)")
    if shutil.which(netns.NEWUIDMAP) is None or shutil.which(netns.NEWGIDMAP) is None:
        pytest.skip("needs newuidmap and newgidmap (Debian package uidmap)")
    subuid, subgid = root / "subuid", root / "subgid"
    for f in (subuid, subgid):
        f.write_text(grant)
        f.chmod(0o644)
    manifest = root / "ids.yaml"
    manifest.write_text("\n---\n".join(json.dumps(d) for d in docs))
    manifest.chmod(0o644)
    nobody = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    argv = [*nobody, SYSTEM_PYTHON, "-m", "podnet", "run", "-f", str(manifest)]
    done = subprocess.run(
        [*argv, "--timeout", "6", "--logs", "all"],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(root / "site")},
        cwd=str(root),
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=lambda: _private_etc(subuid, subgid),
    )
    if "cannot create the cluster namespaces" in done.stderr:
        pytest.skip(f"no unprivileged user namespaces here: {done.stderr[-300:]}")
    return Result(done.returncode, done.stdout, done.stderr)


def _fields(lines: list[str]) -> dict[str, str]:
    return {k: v for k, sep, v in (ln.partition("=") for ln in lines) if sep}


def test_rootless_subuid_range_runs_users(world_readable_podnet: Path) -> None:
    require_live()
    before = HostState.take()
    grant = f"nobody:{RANGE_START}:{RANGE_COUNT}\n"
    docs = [
        _pod("user", {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000]}),
        _pod("root", None),
        _pod("far", {"runAsUser": RANGE_COUNT + 10}),
    ]
    res = _run_as_nobody(world_readable_podnet, grant, docs)
    user = _fields(res.pod_lines("default/user"))
    assert user.get("ids") == "1000:3000", res.out + res.err
    assert user["groups"].split() == ["3000", "4000"]
    assert user["tmp"] == "1000:3000"
    # inside id 1 is the range's first host id; 0 is nobody itself
    assert user["map"].split() == ["1", str(RANGE_START), str(RANGE_COUNT)]
    root = _fields(res.pod_lines("default/root"))
    assert root.get("ids") == "0:0" and root["tmp"] == "0:0", res.out + res.err
    far = " ".join(res.pod_lines("default/far"))
    assert "ids=" not in far and f"uid {RANGE_COUNT + 10}" in far, far
    assert "/etc/subuid" in far and f"uids 0-{RANGE_COUNT}" in far, far
    assert HostState.take() == before


def test_rootless_without_subuid_refuses_users(world_readable_podnet: Path) -> None:
    require_live()
    docs = [_pod("user", {"runAsUser": 1000}), _pod("root", None)]
    res = _run_as_nobody(world_readable_podnet, "someoneelse:100000:65536\n", docs)
    user = " ".join(res.pod_lines("default/user"))
    assert "ids=" not in user and "uid 1000" in user, res.out + res.err
    assert "/etc/subuid" in user and "'nobody'" in user and "usermod" in user, user
    assert _fields(res.pod_lines("default/root")).get("ids") == "0:0", res.out + res.err
