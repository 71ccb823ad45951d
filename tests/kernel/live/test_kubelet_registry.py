"""The kubelet over the API registry, on a real two-node cluster (no HTTP, no
controllers: pods are created already bound with spec.nodeName).

A pod goes Running and Ready with an IP of its node's /24; a client reaches a Service's
ClusterIP; a NetworkPolicy created through the registry blocks it within a second and
its deletion restores traffic; logs with tail and timestamps; a graceful delete removes
the pod from the sandbox and then from the store; a recreated pod gets a new IP; the
DNS pod is mirrored in the store; and after stop and close nothing is left on the host.

The cluster runs in a child process (this file runs itself), as every live test does.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.sandbox import HostState, run_in_pod, run_json_child

pytestmark = pytest.mark.kernel
BUSYBOX = "/bin/busybox"
STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")


def test_kubelet_runs_the_registry_pods_on_the_live_cluster() -> None:
    from support.live import require_live

    require_live()
    before = HostState.take()
    r = run_json_child([sys.executable, __file__], timeout=180)
    assert r["web_phase"] == "Running" and r["web_ready"] == "True", r
    assert r["web_ip"].startswith("10.244.0."), r  # node-0's podCIDR
    assert r["web_host_ip"] != r["client_host_ip"], r
    assert r["web_state"] == ["running"], r
    assert r["dns_mirror"] == {"k8s-app": "kube-dns"} and r["dns_phase"] == "Running", r
    assert "Welcome to nginx!" in r["via_service"], r
    assert r["denied_rc"] != 0 and r["denied_within"] < 1.0, r
    assert "Welcome to nginx!" in r["allowed_again"], r
    assert r["logs_tail"] == "two\nthree\n", r
    assert r["logs_stamped"], r
    assert {"Pulled", "Created", "Started"} <= set(r["reasons"]), r
    assert r["event_source"]["component"] == "kubelet" and r["event_source"]["host"], r
    assert r["crash_last_exit"] == 1 and r["crash_previous_log"] == "run\n", r
    assert r["crash_reasons"] == ["BackOff", "Started"], r
    assert r["client_stopped"], r  # deleted outright: the kubelet stops it too
    assert r["web_gone_from_store"] and r["web_left_sandbox"], r
    assert "Killing" in r["reasons_after_delete"], r
    assert r["new_web_ip"] != r["web_ip"] and r["new_web_ready"] == "True", r
    assert HostState.take() == before


# --- the child: the podnet process -------------------------------------------------


def _wait(cond: Callable[[], Any], timeout: float = 20) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    return cond()


def _pod(name: str, node: str, image: str, command: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name.split("-")[0], "image": image}
    if command:
        container["command"] = command
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"nodeName": node, "containers": [container], "terminationGracePeriodSeconds": 2},
    }


def _child(make_registry: Callable[[], Any]) -> None:
    from podnet.apiserver.errors import ApiError
    from podnet.apiserver.resources import by_kind
    from podnet.live.cluster import LiveCluster
    from podnet.live.kubelet import Kubelet
    from podnet.model.objects import Manifests

    pods, svcs = by_kind("", "Pod"), by_kind("", "Service")
    netpols, events = by_kind("networking.k8s.io", "NetworkPolicy"), by_kind("", "Event")
    namespaces = by_kind("", "Namespace")
    assert pods and svcs and netpols and events and namespaces
    reg = make_registry()
    for ns in ("default", "kube-system"):
        with contextlib.suppress(ApiError):  # the registry made it already
            reg.create(
                namespaces,
                None,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            )
    r: dict[str, Any] = {}
    cluster = LiveCluster(Manifests(), nodes=2, deny="reject", backoff_scale=0.05)
    kubelet = None
    try:
        cluster.start()
        kubelet = Kubelet(reg, cluster)
        kubelet.start()
        reg.create(pods, "default", _pod("web", "node-0", "nginx"))
        echo = ["sh", "-c", "echo one; echo two; echo three; exec sleep 1000"]
        reg.create(pods, "default", _pod("client", "node-1", "busybox", echo))
        crash = ["sh", "-c", "echo run; exit 1"]
        reg.create(pods, "default", _pod("crasher", "node-1", "busybox", crash))

        def ready(name: str) -> dict[str, Any] | None:
            try:
                st = reg.get(pods, "default", name).get("status") or {}
            except ApiError:
                return None
            conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
            return st if conds.get("Ready") == "True" else None

        web = _wait(lambda: ready("web"))
        client = _wait(lambda: ready("client"))
        assert web and client, (web, client)
        r["web_phase"], r["web_ip"], r["web_host_ip"] = web["phase"], web["podIP"], web["hostIP"]
        r["web_ready"] = "True"
        r["client_host_ip"] = client["hostIP"]
        r["web_state"] = list(web["containerStatuses"][0]["state"])
        dns = _wait(lambda: ready_ns(reg, pods, "kube-system", "coredns-0"))
        r["dns_mirror"] = dns["metadata"].get("labels") if dns else None
        r["dns_phase"] = (dns or {}).get("status", {}).get("phase")

        svc = reg.create(
            svcs,
            "default",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
        )
        ip = svc["spec"]["clusterIP"]
        wget = [BUSYBOX, "timeout", "1", BUSYBOX, "wget", "-qO-", f"http://{ip}"]
        _wait(lambda: run_in_pod(cluster, "default/client", wget)[0] == 0)
        r["via_service"] = run_in_pod(cluster, "default/client", wget)[1]

        t0 = time.monotonic()
        deny = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-web", "namespace": "default"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]},
        }
        reg.create(netpols, "default", deny)
        _wait(lambda: run_in_pod(cluster, "default/client", wget)[0] != 0, 5)
        r["denied_within"] = time.monotonic() - t0
        r["denied_rc"] = run_in_pod(cluster, "default/client", wget)[0]
        reg.delete(netpols, "default", "deny-web")
        _wait(lambda: run_in_pod(cluster, "default/client", wget)[0] == 0, 5)
        r["allowed_again"] = run_in_pod(cluster, "default/client", wget)[1]

        _wait(lambda: kubelet.logs("default", "client", tail=2) == b"two\nthree\n", 5)
        r["logs_tail"] = kubelet.logs("default", "client", tail=2).decode()
        stamped = kubelet.logs("default", "client", timestamps=True).splitlines()
        r["logs_stamped"] = len(stamped) == 3 and all(STAMP.match(ln) for ln in stamped)

        def reasons() -> list[str]:
            items = reg.list(events, "default").items
            web = [e for e in items if (e.get("involvedObject") or {}).get("name") == "web"]
            return sorted({str(e.get("reason")) for e in web})

        r["reasons"] = _wait(lambda: [x for x in reasons() if x == "Started"] and reasons(), 5)
        started = [e for e in reg.list(events, "default").items if e.get("reason") == "Started"]
        r["event_source"] = started[0].get("source") if started else None

        def crashed() -> dict[str, Any] | None:
            st = reg.get(pods, "default", "crasher").get("status") or {}
            cs = (st.get("containerStatuses") or [{}])[0]
            return cs if cs.get("restartCount", 0) >= 1 and cs.get("lastState") else None

        cs = _wait(crashed, 10) or {}
        r["crash_last_exit"] = cs.get("lastState", {}).get("terminated", {}).get("exitCode")
        r["crash_previous_log"] = kubelet.logs("default", "crasher", previous=True).decode()
        r["crash_reasons"] = sorted(
            {str(e.get("reason")) for e in reg.list(events, "default").items}
            & {"BackOff", "Started"}
        )
        reg.delete(pods, "default", "client", grace_period=0)  # forced: gone from the store
        r["client_stopped"] = bool(
            _wait(lambda: "pod/default/client" not in cluster.sandbox.pids(), 10)  # type: ignore[union-attr]
        )
        reg.delete(pods, "default", "web")  # graceful: the kubelet stops it, then deletes it

        def gone() -> bool:
            try:
                reg.get(pods, "default", "web")
            except ApiError as e:
                return e.code == 404
            return False

        r["web_gone_from_store"] = bool(_wait(gone, 15))
        assert cluster.sandbox is not None
        r["web_left_sandbox"] = "pod/default/web" not in cluster.sandbox.pids()
        r["reasons_after_delete"] = _wait(lambda: "Killing" in reasons() and reasons(), 5)
        reg.create(pods, "default", _pod("web", "node-0", "nginx"))
        again = _wait(lambda: ready("web"))
        r["new_web_ip"] = (again or {}).get("podIP")
        r["new_web_ready"] = "True" if again else "False"
    finally:
        if kubelet is not None:
            kubelet.stop()
        cluster.close()
    print(json.dumps(r), flush=True)


def ready_ns(reg: Any, pods: Any, namespace: str, name: str) -> dict[str, Any] | None:
    from podnet.apiserver.errors import ApiError

    try:
        obj: dict[str, Any] = reg.get(pods, namespace, name)
    except ApiError:
        return None
    return obj if (obj.get("status") or {}).get("phase") == "Running" else None


def _registry() -> Any:
    from podnet.apiserver.registry import Registry
    from podnet.apiserver.store.memory import MemoryStore
    from podnet.controllers.manager import ensure_system_priority_classes

    # as kube-apiserver's post-start hook: the kubelet's mirror pods name a system class
    registry = Registry(MemoryStore())
    registry.disabled_admission = frozenset({"ServiceAccount"})  # no token issuer here
    ensure_system_priority_classes(registry)
    return registry


if __name__ == "__main__":
    _child(_registry)
