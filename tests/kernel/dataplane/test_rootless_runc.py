"""runc, the fallback runtime (``PODNET_OCI_RUNTIME=runc``): the same isolation as crun,
and no cgroup left behind, after a normal exit and after podnet is SIGKILLed (kernel).

runc has no ``--cgroup-manager=disabled``; podnet runs it with ``--rootless=true`` in
the pod's mount namespace, where the pause mounted the cgroup hierarchies read-only,
so runc skips every cgroup it cannot create. Without that, runc made a cgroup per
container under each v1 controller, which a SIGKILLed runc never removes (and
podnet's teardown SIGKILLs containers). Each run proves runc ran (its process in the
tree, crun's absent), what a pod can do, and that the host's cgroup directories,
mounts, links and ruleset are as before. The rootless case runs with runc too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.leftovers import what_is_left
from support.live import (
    argv_of,
    descendants,
    require_live,
    run_cli,
    running_cli,
    wait_for_line,
    wait_gone,
    write_manifest,
)
from support.sandbox import HostState

from podnet.live.statedir import base_dir

pytestmark = pytest.mark.kernel

CGROUPS = Path("/sys/fs/cgroup")
PROBE = r"""
t() { n=$1; shift; "$@" >/dev/null 2>&1; echo "$n=$?"; }
t shadow cat /etc/shadow
t mount mount -t tmpfs none /tmp
t link ip link set lo down
t cgroup mkdir /sys/fs/cgroup/podnet-escape
echo "victim=$(ps -o args | grep -c [3]1337)"
grep -e CapEff -e Seccomp: -e NoNewPrivs /proc/self/status | tr -d '\t' | tr : =
echo probe-done
exec sleep 31338
"""
MANIFEST = [
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "victim"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "31337"]}]},
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", PROBE]}]},
    },
]


STATE_REMOVED_WITHIN = 2.0  # seconds from podnet's SIGKILL


def cgroup_dirs() -> set[str]:
    """Every cgroup directory of the host (v1 controllers and v2 alike)."""
    return {root for root, _, _ in os.walk(CGROUPS)}


def _require_runc() -> str:
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("needs runc (Debian package runc)")
    return runc


def _check_probe(lines: list[str], text: str) -> None:
    got = {k: v for k, sep, v in (ln.partition("=") for ln in lines) if sep}
    assert "probe-done" in lines, text
    escapes = {k for k in ("shadow", "mount", "link", "cgroup") if got.get(k) == "0"}
    assert escapes == set(), text
    assert got["victim"] == "0", text  # its own PID namespace
    assert got["Seccomp"] == "2" and got["NoNewPrivs"] == "1", text
    eff = int(got["CapEff"], 16)
    assert not eff >> 12 & 1 and not eff >> 21 & 1, text  # no NET_ADMIN, no SYS_ADMIN


def _runtimes(pids: dict[int, int]) -> set[str]:
    names = set()
    for pid in pids:
        argv = argv_of(pid)
        if argv:
            names.add(os.path.basename(argv[0].decode(errors="replace")))
    return names & {"runc", "crun"}


def test_runc_pods_isolated_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_live()
    _require_runc()
    monkeypatch.setenv("PODNET_OCI_RUNTIME", "runc")
    before, groups = HostState.take(), cgroup_dirs()
    manifest = write_manifest(tmp_path, "\n---\n".join(json.dumps(d) for d in MANIFEST))
    # a normal run: the containers are stopped by podnet's teardown
    res = run_cli("run", "-f", str(manifest), "--timeout", "10", timeout=90)
    _check_probe(res.pod_lines("default/probe"), res.out + res.err)
    assert cgroup_dirs() == groups
    assert HostState.take() == before
    # podnet SIGKILLed while runc and its containers run
    with running_cli("run", "-f", str(manifest), "--timeout", "120") as proc:
        seen = wait_for_line(proc.stdout, "[default/probe] probe-done", 40)
        started = descendants(proc.pid)
        assert _runtimes(started) == {"runc"}, started
        (state,) = base_dir().glob(f"podnet-{proc.pid}-*")
        killed = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    _check_probe([ln.removeprefix("[default/probe] ") for ln in seen], "\n".join(seen))
    # the cluster init removes the state dir at once when podnet has gone (0.03-0.06 s
    # measured, podnet/dataplane/sandbox/cluster_init.py); the bound is for a loaded CI
    while state.exists() and time.monotonic() - killed < STATE_REMOVED_WITHIN:
        time.sleep(0.01)
    assert not state.exists(), f"{STATE_REMOVED_WITHIN}s after the kill: {what_is_left(state)}"
    assert wait_gone(started) == []
    assert cgroup_dirs() == groups
    assert HostState.take() == before


def test_runc_rootless(world_readable_podnet: Path) -> None:
    require_live()
    _require_runc()
    setpriv = shutil.which("setpriv")
    if setpriv is None or not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("needs setpriv and the system python3")
    groups = cgroup_dirs()
    manifest = world_readable_podnet / "runc.yaml"
    manifest.write_text("\n---\n".join(json.dumps(d) for d in MANIFEST))
    manifest.chmod(0o644)
    nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    done = subprocess.run(
        [
            *nobody,
            "/usr/bin/python3",
            "-m",
            "podnet",
            "run",
            "-f",
            str(manifest),
            "--timeout",
            "10",
        ],
        env={
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(world_readable_podnet / "site"),
            "PODNET_OCI_RUNTIME": "runc",
        },
        cwd=str(world_readable_podnet),
        capture_output=True,
        text=True,
        timeout=90,
    )
    if "cannot create the cluster namespaces" in done.stderr:
        pytest.skip(f"no unprivileged user namespaces here: {done.stderr[-300:]}")
    tag = "[default/probe] "
    lines = [ln[len(tag) :] for ln in done.stdout.splitlines() if ln.startswith(tag)]
    _check_probe(lines, done.stdout + done.stderr)
    assert cgroup_dirs() == groups
