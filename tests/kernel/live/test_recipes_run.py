"""The Kubernetes task "Declare Network Policy" through ``podnet run -f`` (no API server):
examples/recipes/declare-network-policy holds what the task's ``kubectl create
deployment``/``expose`` make, its two ``kubectl run busybox`` shells as client pods that
run the command the task types (``wget --spider --timeout=1 nginx``), and its
``access-nginx`` policy. Without the policy both clients reach nginx; with it only the
``access=true`` one does, and the other times out as the task shows.
https://kubernetes.io/docs/tasks/administer-cluster/declare-network-policy/
"""

from __future__ import annotations

import ipaddress

import pytest
from support.live import require_live, run_cli
from support.paths import REPO

pytestmark = pytest.mark.kernel

TASK = REPO / "examples" / "recipes" / "declare-network-policy"


def test_declare_network_policy_before_the_policy_everyone_reaches_nginx() -> None:
    require_live()
    res = run_cli("run", "-f", str(TASK / "nginx.yaml"), "-f", str(TASK / "clients.yaml"))
    assert res.rc == 0, res.err
    for pod in ("default/busybox", "default/busybox-access"):
        lines = res.pod_lines(pod)
        # a ClusterIP of the Service CIDR (10.96.0.0/12), the API's allocator's choice
        ip = lines[0].removeprefix("Connecting to nginx (").split(":")[0]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12"), res.out
        assert lines[1:] == ["remote file exists"], res.out


def test_declare_network_policy_only_access_true_reaches_nginx() -> None:
    require_live()
    res = run_cli("run", "-f", str(TASK), "--timeout", "30")
    assert res.rc == 1, res.err  # one client (the unlabelled busybox) exited 1
    assert res.pod_lines("default/busybox")[1:] == ["wget: download timed out"], res.out
    assert res.pod_lines("default/busybox-access")[1:] == ["remote file exists"], res.out
    assert "default/access-nginx" in res.err
    assert "default/busybox/busybox exited 1" in res.err
