"""Containers in real pod namespaces: the seed example's pods plus the DNS pod.

The test runs this very file as a child process (the "podnet process" of the sandbox
lifetime design: the test runner itself never enters a namespace). The child builds
the seed cluster (pod-a busybox, pod-b nginx, my-service, and the kube-system DNS pod),
creates the namespaces with :class:`~podnet.dataplane.sandbox.namespaces.Sandbox`, starts every
container with the :class:`~podnet.dataplane.runtime.pods.Runtime` through the sandbox
spawner, and checks from inside pod-a, by pod IP only (no Service proxy here):

* nginx in pod-b serves "Welcome to nginx!" on port 80 (busybox ``wget``);
* the DNS pod answers ``my-service.default.svc.cluster.local`` with the Service's
  ClusterIP, over UDP (busybox ``nslookup``) and from the records file it was given;
* the pods' readiness was reported, and their processes are gone after close.

All traffic stays inside the namespaces the child created; killing the child (the
fixture does, with SIGKILL, on any failure) removes everything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from support.sandbox import run_json_child


def _skip_reason() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux"
    import shutil

    for tool in ("ip", "nsenter", "unshare", "nginx", "busybox"):
        if shutil.which(tool) is None and not os.path.exists(f"/bin/{tool}"):
            return f"needs {tool}"
    return None


@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["stepped", "background"])
def test_seed_pods_run_in_their_namespaces(mode: str) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    result = run_json_child([sys.executable, __file__, mode])
    assert "Welcome to nginx!" in result["wget"], result
    assert result["cluster_ip"] in result["nslookup"], result
    assert result["nxdomain_rc"] != 0, result
    assert result["ready"]["default/pod-b"] is True
    assert result["ready"]["kube-system/coredns-0"] is True
    assert result["phase_a"] in ("Succeeded", "Failed", "Running"), result
    assert result["leftover"] == [], result


# --- the child: the podnet process -------------------------------------------------


def _exec(sb: Any, pod: str, argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    p = sb.spawn(pod, argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return p.returncode, out.decode(errors="replace")


def _child(mode: str) -> dict[str, Any]:
    from podnet.control.cluster import build_cluster
    from podnet.control.dns.lookup import build_records
    from podnet.dataplane.dns import records as dnsserver_records
    from podnet.dataplane.dns.main import RECORDS_ENV
    from podnet.dataplane.images.registry import default_registry
    from podnet.dataplane.runtime.pods import Runtime
    from podnet.dataplane.runtime.spawn import sandbox_spawner
    from podnet.dataplane.sandbox.namespaces import Sandbox
    from podnet.errors import NotSupportedError
    from podnet.model.objects import Container, Manifests, Pod, Probe, Service, ServicePort

    pod_a = Pod("default", "pod-a", {"app": "client"}, (
        Container("client", "busybox", command=("sh", "-c", "sleep 3600")),))  # fmt: skip
    probe = Probe(http_get_port=80, period_seconds=1)  # run inside the pod, to its IP
    pod_b = Pod("default", "pod-b", {"app": "my-app"},
                (Container("server", "nginx", readiness_probe=probe),))  # fmt: skip
    svc = Service("default", "my-service", selector={"app": "my-app"},
                  ports=(ServicePort(80, 80, "TCP"),))  # fmt: skip
    state = build_cluster(Manifests(pods=(pod_a, pod_b), services=(svc,)))
    try:
        sb = Sandbox.enter()
    except NotSupportedError as e:
        return {"skip": f"no sandbox: {e}"}
    tmp = Path(tempfile.mkdtemp(prefix="podnet-rt-"))
    ready: dict[str, bool] = {}
    rt = Runtime(
        default_registry(tmp / "images"),
        sandbox_spawner(sb),
        tmp / "pods",
        on_ready=lambda k, r: ready.__setitem__(k, r),
        grace=2.0,
    )
    try:
        if mode == "background":
            rt.start_background()  # needs a sandbox that leaves this thread able to fork threads
        sb.add_nodes(state.nodes)
        sb.add_pods(state.pods)
        records = tmp / "dns.json"
        dnsserver_records.write(records, build_records(state))
        for p in state.pods:
            rt.start_pod(p, env={RECORDS_ENV: str(records)})
        ips = {p.key: p.ip or "" for p in state.pods}
        rt.run_until(
            lambda: bool(ready.get("default/pod-b") and ready.get("kube-system/coredns-0")), 20
        )
        bb_env = {"PATH": f"{tmp / 'images' / 'busybox-bin'}:/usr/bin:/bin"}
        wget, out = "", ""
        for _ in range(50):  # nginx may need a moment after its process started
            rc, wget = _exec(
                sb, "default/pod-a", ["wget", "-qO-", f"http://{ips['default/pod-b']}/"], bb_env
            )
            if rc == 0:
                break
            rt.run_until(lambda: False, 0.2)
        dns_ip = ips["kube-system/coredns-0"]
        for _ in range(50):
            rc, out = _exec(
                sb,
                "default/pod-a",
                ["nslookup", "my-service.default.svc.cluster.local", dns_ip],
                bb_env,
            )
            if rc == 0:
                break
            rt.run_until(lambda: False, 0.2)
        nx_rc, _ = _exec(
            sb, "default/pod-a", ["nslookup", "nope.default.svc.cluster.local", dns_ip], bb_env
        )
        phase_a = rt.status("default/pod-a").phase
        ready_seen = dict(ready)
        svc_ip = next(s.cluster_ip for s in state.services if s.key == "default/my-service")
    finally:
        rt.close()
        sb.close()
    leftover = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_ours(int(p), tmp)]
    shutil.rmtree(tmp, ignore_errors=True)
    return {"wget": wget, "nslookup": out, "nxdomain_rc": nx_rc, "cluster_ip": svc_ip,
            "ready": ready_seen, "phase_a": phase_a, "leftover": leftover}  # fmt: skip


def _is_ours(pid: int, tmp: Path) -> bool:
    """A process whose command line mentions this run's private state directory."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return str(tmp).encode() in f.read()
    except OSError:
        return False


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1] if len(sys.argv) > 1 else "stepped")), flush=True)
