"""``kubectl exec`` and ``podnet exec`` into a pod of ``podnet up`` run in the container.

Both are ``crun exec`` there: the container's root (no host files), user, capabilities
and seccomp filter; not a host process in the pod's namespaces.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, eventually, podnet_up
from support.live import require_live, run_cli

pytestmark = pytest.mark.kernel

CHECK = (
    "grep -e Seccomp: -e NoNewPrivs /proc/self/status; id -u;"
    " unshare -n true 2>/dev/null; echo unshare=$?; test -e /etc/shadow; echo shadow=$?"
)


def test_exec_is_confined_to_the_container(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl(KUBECTL_VERSIONS[-1])
        k.ok(
            "run", "box", "--image=busybox", "--overrides",
            '{"spec": {"securityContext": {"runAsUser": 1000}}}', "--", "sleep", "1000",
        )  # fmt: skip

        def running() -> bool:
            return bool(k.json("get", "pod", "box").get("status", {}).get("phase") == "Running")

        eventually(running, 30, "the pod runs")
        want = ["NoNewPrivs:\t1", "Seccomp:\t2", "1000", "unshare=1", "shadow=1"]
        for version in KUBECTL_VERSIONS:
            got = up.kubectl(version).ok("exec", "box", "--", "sh", "-c", CHECK)
            assert got.splitlines() == want, (version, got)
        cli = run_cli("exec", "--cluster", str(up.proc.pid), "box", "--", "sh", "-c", CHECK)
        assert cli.out.splitlines() == want, cli.err
