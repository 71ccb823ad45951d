"""The DNS pod in real namespaces: UDP and TCP from another pod, and a live reload.

As in ``test_runtime_live.py``, this file runs itself as the child "podnet process"
that owns the sandbox. The DNS pod (image ``podnet/dns``, two workers) is started by
the runtime with its records file; a client pod asks with dnslib over UDP and TCP, the
records file is rewritten (a new Service), and the new name resolves without restart.
Traffic stays between the two pods' namespaces; SIGKILL of the child removes all.
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
from support.paths import PYTHONPATH
from support.sandbox import run_json_child

ASK = """
import sys
from dnslib import DNSRecord
name, server, tcp = sys.argv[1], sys.argv[2], sys.argv[3] == "tcp"
r = DNSRecord.parse(DNSRecord.question(name).send(server, 53, tcp=tcp, timeout=2))
print(r.header.rcode, *[str(a.rdata) for a in r.rr])
"""


@pytest.mark.kernel
def test_dns_pod_answers_and_reloads() -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux")
    result = run_json_child([sys.executable, __file__])
    ip = result["svc_ip"]
    assert result["udp"] == f"0 {ip}", result
    assert result["tcp"] == f"0 {ip}", result
    assert result["missing"] == "3", result  # NXDOMAIN
    assert result["before_reload"] == "3", result
    assert result["after_reload"] == f"0 {result['new_ip']}", result


def _child() -> dict[str, Any]:
    from podnet.control.cluster import build_cluster
    from podnet.control.dns.lookup import build_records
    from podnet.dataplane.dns import records as dnsserver_records
    from podnet.dataplane.dns.main import RECORDS_ENV
    from podnet.dataplane.images.registry import default_registry
    from podnet.dataplane.runtime.pods import Runtime
    from podnet.dataplane.runtime.spawn import sandbox_spawner
    from podnet.dataplane.sandbox.namespaces import Sandbox
    from podnet.errors import NotSupportedError
    from podnet.model.objects import Container, Manifests, Pod, Service, ServicePort

    client = Pod("default", "client", {}, (Container("c", "busybox", command=("sleep", "600")),))
    web = Service("default", "web", selector={"app": "web"}, ports=(ServicePort(80, 80),))
    state = build_cluster(Manifests(pods=(client,), services=(web,)))
    try:
        sb = Sandbox.enter()
    except NotSupportedError as e:
        return {"skip": f"no sandbox: {e}"}
    tmp = Path(tempfile.mkdtemp(prefix="podnet-dns-"))
    ready: dict[str, bool] = {}
    rt = Runtime(default_registry(tmp / "images"), sandbox_spawner(sb), tmp / "pods",
                 on_ready=lambda k, r: ready.__setitem__(k, r), grace=2.0)  # fmt: skip
    records = tmp / "dns.json"

    def ask(name: str, tcp: bool = False) -> str:
        p = sb.spawn("default/client", [sys.executable, "-c", ASK, name, dns_ip,
                     "tcp" if tcp else "udp"], env={"PYTHONPATH": PYTHONPATH},
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        out, _ = p.communicate(timeout=20)
        return str(out.decode().strip())

    try:
        sb.add_nodes(state.nodes)
        sb.add_pods(state.pods)
        dnsserver_records.write(records, build_records(state))
        for p in state.pods:
            rt.start_pod(p, env={RECORDS_ENV: str(records)})
        dns_ip = next(p.ip for p in state.pods if p.key == "kube-system/coredns-0") or ""
        rt.run_until(lambda: bool(ready.get("kube-system/coredns-0")), 20)
        svc_ip = next(s.cluster_ip for s in state.services if s.key == "default/web")
        name = "web.default.svc.cluster.local"
        udp = ""
        for _ in range(50):  # the server needs a moment to bind after its process starts
            udp = ask(name)
            if udp.startswith("0 "):
                break
            rt.run_until(lambda: False, 0.2)
        result: dict[str, Any] = {"svc_ip": svc_ip, "udp": udp, "tcp": ask(name, tcp=True)}
        result["missing"] = ask("nope.default.svc.cluster.local")
        new_name = "api.default.svc.cluster.local"
        result["before_reload"] = ask(new_name)
        api = Service("default", "api", selector={"app": "api"}, ports=(ServicePort(80, 80),))
        state2 = build_cluster(Manifests(pods=(client,), services=(web, api)))
        dnsserver_records.write(records, build_records(state2))
        result["new_ip"] = next(s.cluster_ip for s in state2.services if s.key == "default/api")
        after = ""
        for _ in range(40):  # the file is polled every second by each worker
            after = ask(new_name)
            if after.startswith("0 ") and all(ask(new_name) == after for _ in range(4)):
                break
            rt.run_until(lambda: False, 0.25)
        result["after_reload"] = after
        return result
    finally:
        rt.close()
        sb.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(_child()), flush=True)
