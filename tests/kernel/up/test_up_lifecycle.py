"""`podnet up` as a server: its data dir across restarts (objects kept, Services keep
their ClusterIPs, pods come back with new IPs, as after a node reboot), SIGKILL leaving
nothing on the host and losing no acknowledged write, a second `up` on a busy data dir
refused, and the Python `kubernetes` client as a third real client."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.kube import eventually, podnet_up
from support.live import descendants, require_live, run_cli, wait_gone
from support.sandbox import HostState

pytestmark = pytest.mark.kernel

WEB = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
"""


def _running_ip(kubectl: Any, name: str) -> str:
    def ip() -> str | None:
        status = kubectl.json("get", "pod", name).get("status", {})
        return status.get("podIP") if status.get("phase") == "Running" else None

    found: str = eventually(ip, 30, f"pod {name} Running with an IP")
    return found


def test_restart_with_the_same_data_dir_keeps_objects(tmp_path: Path) -> None:
    require_live()
    data = tmp_path / "data"
    with podnet_up(tmp_path, data_dir=data) as up:
        kubectl = up.kubectl("1.37")
        kubectl.ok("apply", "-f", "-", stdin=WEB)
        cluster_ip = kubectl.json("get", "svc", "web")["spec"]["clusterIP"]
        listed = json.loads(kubectl.ok("get", "--raw", "/api/v1/namespaces/default/configmaps"))
        old_rv = listed["metadata"]["resourceVersion"]  # (kubectl get -o json drops it)
        assert old_rv
        first_ip = _running_ip(kubectl, "web")
        rc, err = up.stop()
        assert rc == 0, err
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    with podnet_up(tmp_path, data_dir=data) as up:
        kubectl = up.kubectl("1.37")
        assert kubectl.json("get", "svc", "web")["spec"]["clusterIP"] == cluster_ip
        assert kubectl.json("get", "cm", "settings")["data"] == {"greeting": "hello"}
        second_ip = _running_ip(kubectl, "web")
        # The change log starts afresh at the store's resourceVersion: a watch from before
        # it is 410 Expired, sent as the watch's ERROR event (as after an etcd compaction).
        watch = kubectl(
            "get", "--raw",
            f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={int(old_rv) - 1}"
            "&timeoutSeconds=3",
        )  # fmt: skip
        first = json.loads(watch.out.splitlines()[0])
        assert first["type"] == "ERROR" and first["object"]["code"] == 410, watch.out
        assert second_ip.startswith("10.244.")
        del first_ip  # new or the same: both are what a node reboot may give
        rc, err = up.stop()
        assert rc == 0, err


def test_sigkill_leaves_nothing_and_loses_no_acknowledged_write(tmp_path: Path) -> None:
    require_live()
    before = HostState.take()
    data = tmp_path / "data"
    with podnet_up(tmp_path, data_dir=data) as up:
        kubectl = up.kubectl("1.37")
        kubectl.ok("apply", "-f", "-", stdin=WEB)
        _running_ip(kubectl, "web")
        acknowledged = []
        for i in range(20):
            kubectl.ok("create", "configmap", f"cm-{i}", f"--from-literal=i={i}")
            acknowledged.append(f"cm-{i}")
        started = descendants(up.proc.pid)
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait()
    assert wait_gone(started, timeout=10) == []
    assert HostState.take() == before
    with podnet_up(tmp_path, data_dir=data) as up:
        kubectl = up.kubectl("1.37")
        names = {i["metadata"]["name"] for i in kubectl.json("get", "configmaps")["items"]}
        assert set(acknowledged) <= names
        rc, err = up.stop()
        assert rc == 0, err


def test_second_up_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path) as up:
        res = run_cli("up", "--data-dir", str(up.data_dir), "--kubeconfig", str(tmp_path / "kc2"))
        assert res.rc == 1
        assert "another `podnet up` is using this data dir" in res.err, res.err
        assert "Traceback" not in res.err
        up.stop()


def test_python_kubernetes_client(tmp_path: Path) -> None:
    require_live()
    kubernetes = pytest.importorskip("kubernetes")
    with podnet_up(tmp_path, "--nodes", "2") as up:
        api_client = kubernetes.config.new_client_from_config(config_file=str(up.kubeconfig))
        try:
            core = kubernetes.client.CoreV1Api(api_client)
            apps = kubernetes.client.AppsV1Api(api_client)
            names = {n.metadata.name for n in core.list_namespace().items}
            assert {"default", "kube-system"} <= names
            core.create_namespaced_config_map(
                "default", {"metadata": {"name": "from-python"}, "data": {"a": "1"}}
            )
            assert core.read_namespaced_config_map("from-python", "default").data == {"a": "1"}
            apps.create_namespaced_deployment(
                "default",
                {
                    "metadata": {"name": "web"},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
                        },
                    },
                },
            )

            def ready_replicas() -> int:
                status = apps.read_namespaced_deployment("web", "default").status
                return int((status and status.ready_replicas) or 0)

            eventually(lambda: ready_replicas() == 2, 30, "the Deployment's 2 replicas ready")
            w = kubernetes.watch.Watch()
            seen = []
            t0 = time.monotonic()
            for event in w.stream(core.list_namespaced_pod, "default", timeout_seconds=5):
                seen.append((event["type"], event["object"].metadata.name))
                if len(seen) >= 2:
                    w.stop()
            assert time.monotonic() - t0 < 10
            assert [t for t, _ in seen] == ["ADDED", "ADDED"], seen
            with pytest.raises(kubernetes.client.ApiException) as e:
                core.read_namespaced_pod("nope", "default")
            assert e.value.status == 404
        finally:
            api_client.close()
        rc, _ = up.stop()
    assert rc == 0


def test_pods_reach_the_api_through_the_kubernetes_service(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path, "--nodes", "2") as up:
        kubectl = up.kubectl("1.37")
        endpoints = kubectl.json("get", "endpoints", "kubernetes")
        (address,) = [a["ip"] for s in endpoints["subsets"] for a in s["addresses"]]
        assert address.startswith("172.18.0."), address  # node-0, inside the cluster only
        script = (
            "wget --no-check-certificate -qO- https://kubernetes.default.svc/version; "
            "wget --no-check-certificate -qO- https://10.96.0.1/api/v1/pods 2>&1; true"
        )
        for node in ("node-0", "node-1"):
            kubectl.ok(
                "run",
                f"api-{node}",
                "--image=busybox",
                "--restart=Never",
                f'--overrides={{"spec": {{"nodeName": "{node}"}}}}',
                "--",
                "sh",
                "-c",
                script,
            )
        for node in ("node-0", "node-1"):
            logs = eventually(
                lambda n=node: (
                    (d := kubectl("logs", f"api-{n}")).rc == 0  # type: ignore[misc]
                    and "401" in d.out
                    and d.out
                ),
                30,
                f"the pod on {node} reached the API",
            )
            assert '"gitVersion"' in logs and "401 Unauthorized" in logs, logs
        rc, _ = up.stop()
    assert rc == 0
