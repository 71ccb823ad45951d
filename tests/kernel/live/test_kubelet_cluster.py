"""LiveCluster with pods added and removed at run time (what the kubelet drives): a
cluster started with no user pods; pods added on two nodes, a Service and a
NetworkPolicy set while they run, a pod removed and added again (a NEW IP).

The cluster runs in a child process (this file runs itself): a sandbox belongs to one
process and the test runner never enters a namespace.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
from support.sandbox import HostState, run_in_pod, run_json_child

pytestmark = pytest.mark.kernel
BUSYBOX = "/bin/busybox"


def test_pods_services_and_policies_change_while_the_cluster_runs() -> None:
    from support.live import require_live

    require_live()
    before = HostState.take()
    r = run_json_child([sys.executable, __file__])
    assert r["users_at_start"] == [], r
    assert r["web_ip"].startswith("10.244.0."), r  # node-0's /24
    assert r["client_ip"].startswith("10.244.1."), r
    assert "Welcome to nginx!" in r["via_service"], r
    assert r["denied_rc"] != 0 and r["denied_within"] < 1.0, r
    assert "Welcome to nginx!" in r["allowed_again"], r
    assert r["web_left_sandbox"] and r["endpoints_after_remove"] == [], r
    assert r["new_web_ip"] != r["web_ip"], r
    assert "Welcome to nginx!" in r["via_service_new"], r
    assert HostState.take() == before


# --- the child: the podnet process -------------------------------------------------


def _child() -> None:
    from podnet.live.cluster import LiveCluster
    from podnet.model.objects import (
        Container,
        ContainerPort,
        Manifests,
        NetworkPolicy,
        Pod,
        Service,
        ServicePort,
    )
    from podnet.model.selectors import LabelSelector

    r: dict[str, Any] = {}
    web = Pod(
        namespace="default",
        name="web",
        labels={"app": "web"},
        containers=(Container("nginx", "nginx", ports=(ContainerPort(80),)),),
        node_name="node-0",
    )
    client = Pod(
        namespace="default",
        name="client",
        labels={"app": "client"},
        containers=(Container("c", "busybox", command=("sleep", "1000")),),
        node_name="node-1",
    )
    svc = Service(
        "default",
        "web",
        selector={"app": "web"},
        ports=(ServicePort(80, 80),),
        cluster_ip="10.96.0.50",
    )
    deny = NetworkPolicy(
        "default", "deny-web", LabelSelector(match_labels=(("app", "web"),)), ("Ingress",)
    )
    with LiveCluster(Manifests(), nodes=2, deny="reject") as cluster:
        state = cluster.start()
        r["users_at_start"] = [p.key for p in state.pods if p.namespace != "kube-system"]
        cluster.start_pods([p for p in state.pods if p.ip is not None])  # the DNS pod
        placed = cluster.add_pods([web, client])
        cluster.start_pods(placed)
        r["web_ip"], r["client_ip"] = placed[0].ip, placed[1].ip
        cluster.set_objects(services=[svc])

        def ready_ips() -> list[str]:
            eps = (cluster.state.endpoints if cluster.state else {}).get("default/web", {})
            return sorted(e.ip for port in eps.values() for e in port if e.ready)

        def wait(cond: Any, timeout: float = 15) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end and not cond():
                time.sleep(0.02)
            return bool(cond())

        wait(lambda: ready_ips() == [placed[0].ip])
        wget = [BUSYBOX, "timeout", "2", BUSYBOX, "wget", "-qO-", "http://10.96.0.50"]
        wait(lambda: run_in_pod(cluster, "default/client", wget)[0] == 0)
        r["via_service"] = run_in_pod(cluster, "default/client", wget)[1]
        t0 = time.monotonic()
        cluster.set_objects(policies=[deny])
        cluster.wait_synced(5)
        r["denied_rc"] = run_in_pod(cluster, "default/client", wget)[0]
        r["denied_within"] = time.monotonic() - t0
        cluster.set_objects(policies=[])
        cluster.wait_synced(5)
        r["allowed_again"] = run_in_pod(cluster, "default/client", wget)[1]
        cluster.remove_pod("default/web", grace=2)
        assert cluster.sandbox is not None
        r["web_left_sandbox"] = "pod/default/web" not in cluster.sandbox.pids()
        cluster.wait_synced(5)
        r["endpoints_after_remove"] = ready_ips()
        new = cluster.add_pod(web)
        cluster.start_pods([new])
        r["new_web_ip"] = new.ip
        wait(lambda: ready_ips() == [new.ip])
        wait(lambda: run_in_pod(cluster, "default/client", wget)[0] == 0)
        r["via_service_new"] = run_in_pod(cluster, "default/client", wget)[1]
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    _child()
