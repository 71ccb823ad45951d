"""Cluster DNS answered from inside a pod of a ``podnet run`` cluster.

A busybox client runs ``nslookup`` against the resolv.conf podnet gives every pod
(nameserver = the kube-dns ClusterIP, search path ``<ns>.svc.cluster.local ...``), so
each answer crosses the Service proxy to the DNS pod, as in a real cluster. Expected
addresses are read from the run's opening tables: ClusterIPs and pod IPs are the
core's (the API's allocator, the kubelet's IPAM), as on a real cluster. Record
shapes: kubernetes/dns docs/specification.md (A for a ClusterIP Service, one A per
ready endpoint for a headless one, ``_port._proto.svc.ns.svc.cluster.local`` SRV,
NXDOMAIN otherwise).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.live import Result, require_live, run_cli, write_manifest

pytestmark = pytest.mark.kernel

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx, ports: [{name: http, containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx, ports: [{name: http, containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: my-service}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command:
    - sh
    - -c
    - |
      q() { echo "== $1"; shift; nslookup "$@"; echo "rc=$?"; }
      q short my-service
      q fqdn my-service.default.svc.cluster.local
      q srv -type=srv _http._tcp.my-service.default.svc.cluster.local
      q headless web-headless.default.svc.cluster.local
      q missing nothing-here.default.svc.cluster.local
      echo "== end"
"""


def _sections(res: Result) -> dict[str, str]:
    """The client's output split at its ``== name`` markers."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in res.pod_lines("default/client"):
        if line.startswith("== "):
            current = line[3:]
            out[current] = []
        elif current:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def _answers(text: str) -> set[str]:
    """Addresses in the answer part of busybox nslookup output (after the server's)."""
    answer = text.split("\n\n", 1)[1] if "\n\n" in text else text
    return set(re.findall(r"Address: (\d+\.\d+\.\d+\.\d+)", answer))


def _opening_rows(err: str) -> dict[str, list[str]]:
    """The opening tables' rows: pod key -> [IP, NODE, ROLE], service key -> [TYPE,
    CLUSTER-IP, PORT(S)]."""
    rows: dict[str, list[str]] = {}
    for line in err.splitlines():
        cols = line.split()
        if len(cols) >= 4 and "/" in cols[0] and not line.startswith("podnet:"):
            rows.setdefault(cols[0], cols[1:])
    return rows


def test_dns_from_inside_a_pod(tmp_path: Path) -> None:
    require_live()
    path = write_manifest(tmp_path, MANIFEST)
    res = run_cli("run", "-f", str(path), "--timeout", "60")
    assert res.rc == 0, res.err + res.out
    rows = _opening_rows(res.err)
    svc_ip = rows["default/my-service"][1]
    web_ips = {r[0] for k, r in rows.items() if k in ("default/web-1", "default/web-2")}
    assert len(web_ips) == 2, res.err
    sec = _sections(res)
    assert "end" in sec, res.out
    assert _answers(sec["short"]) == {svc_ip}, sec["short"]
    # (busybox nslookup tries every search domain and exits 1 if any failed, as it
    # would in a real cluster: only the answer is checked for the short name.)
    assert _answers(sec["fqdn"]) == {svc_ip}, sec["fqdn"]
    # SRV: priority weight port target, the target being the Service's own name.
    assert re.search(r"_http\._tcp\.my-service\.default\.svc\.cluster\.local\s", sec["srv"]), sec[
        "srv"
    ]
    assert re.search(r"\b80\b.*my-service\.default\.svc\.cluster\.local", sec["srv"]), sec["srv"]
    assert _answers(sec["headless"]) == web_ips, sec["headless"]
    assert "NXDOMAIN" in sec["missing"], sec["missing"]
    assert "rc=1" in sec["missing"]
