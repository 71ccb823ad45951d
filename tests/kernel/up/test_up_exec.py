"""``podnet exec --cluster PID`` into a pod of ``podnet up``: up serves exec on its local
endpoint as ``podnet run`` does (podnet.live.exec), so the pod the API scheduled and
the kubelet started is entered by the same server-side exec as ``kubectl exec``: its
hostname, its IP, the exit code, stdin, ``-n`` and ``ns/name``."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, eventually, podnet_up
from support.live import require_live, run_cli

pytestmark = pytest.mark.kernel


def test_podnet_exec_into_a_pod_of_podnet_up(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        k = up.kubectl(KUBECTL_VERSIONS[-1])
        k.ok("create", "namespace", "shop")
        k.ok("run", "box", "--image=busybox", "-n", "shop", "--", "sleep", "1000")

        def running() -> str:
            pod = k.json("get", "pod", "box", "-n", "shop")
            st = pod.get("status") or {}
            return str(st.get("podIP") or "") if st.get("phase") == "Running" else ""

        ip = eventually(running, 30, "the pod runs")
        cluster = ["--cluster", str(up.proc.pid)]  # other clusters may run beside it

        got = run_cli("exec", *cluster, "-n", "shop", "box", "--", "hostname", timeout=20)
        assert (got.rc, got.out) == (0, "box\n"), got
        got = run_cli("exec", *cluster, "shop/box", "--", "sh", "-c", "ip -4 -o addr show eth0")
        assert f"inet {ip}/" in got.out, got
        got = run_cli("exec", *cluster, "-n", "shop", "box", "--", "sh", "-c", "exit 3")
        assert got.rc == 3, got
        got = run_cli("exec", *cluster, "-i", "shop/box", "--", "cat", stdin="through\n")
        assert (got.rc, got.out) == (0, "through\n"), got
        got = run_cli("exec", *cluster, "shop/nope", "--", "true")
        assert got.rc == 1 and 'Error from server (NotFound): pods "nope" not found' in got.err, got
        rc, _ = up.stop()
        assert rc == 0
