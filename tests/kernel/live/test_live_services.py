"""Services in a ``podnet run`` cluster, seen from a client pod.

* Load balancing: a Deployment of 3 ``agnhost serve-hostname`` replicas behind a
  ClusterIP; 60 fresh connections from a client pod reach all 3 (kube-proxy picks an
  endpoint at random per connection: the chance that one of 3 is never picked in 60
  tries is 3*(2/3)^60, about 1e-10).
* Named targetPort: the Service's ``targetPort: http`` resolves to each pod's
  containerPort named ``http`` (9376), not to a number in the Service.
* A Service without endpoints rejects at once (kube-proxy installs a reject rule:
  "connection refused", not a silent drop that would time out).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.live import require_live, run_cli, write_manifest

pytestmark = pytest.mark.kernel

CLIENT = r"""
import json, os, socket, time, urllib.request
names = []
for _ in range(60):
    with urllib.request.urlopen("http://hostnames", timeout=5) as r:
        names.append(r.read().decode())
print("names " + json.dumps({n: names.count(n) for n in sorted(set(names))}), flush=True)
t = time.monotonic()
try:
    socket.create_connection((os.environ["EMPTY_SERVICE_HOST"], 80), timeout=5).close()
    print("empty connected", flush=True)
except ConnectionRefusedError:
    print("empty refused %.3f" % (time.monotonic() - t), flush=True)
except OSError as e:
    print("empty %s %.3f" % (type(e).__name__, time.monotonic() - t), flush=True)
"""

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hostnames}
spec:
  replicas: 3
  selector: {matchLabels: {app: hostnames}}
  template:
    metadata: {labels: {app: hostnames}}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.39
        args: [serve-hostname]
        ports: [{name: http, containerPort: 9376}]
---
apiVersion: v1
kind: Service
metadata: {name: hostnames}
spec:
  selector: {app: hostnames}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: python
    command: [python3, -c, CLIENT_JSON]
""".replace("CLIENT_JSON", json.dumps(CLIENT))


@pytest.mark.parametrize("nodes", [1, 3])
def test_cluster_ip_balances_named_port_and_rejects_without_endpoints(
    tmp_path: Path, nodes: int
) -> None:
    """With 3 nodes the replicas spread out, so most connections cross nodes."""
    require_live()
    path = write_manifest(tmp_path, MANIFEST)
    res = run_cli("run", "-f", str(path), "--nodes", str(nodes), "--timeout", "90")
    assert res.rc == 0, res.err + res.out
    # the replicas' names and nodes are the controllers' (random suffixes, as on a real
    # cluster): read from the opening table (POD IP NODE ROLE)
    rows = [ln.split() for ln in res.err.splitlines() if ln.startswith("default/hostnames-")]
    replicas = {r[0].removeprefix("default/") for r in rows if len(r) == 4}
    assert len(replicas) == 3, res.err
    assert len({r[2] for r in rows if len(r) == 4}) == min(nodes, 3), res.err
    lines = res.pod_lines("default/client")
    counts = json.loads(next(ln for ln in lines if ln.startswith("names "))[6:])
    assert set(counts) == replicas, counts  # every replica, reached through targetPort: http
    assert sum(counts.values()) == 60
    empty = next(ln for ln in lines if ln.startswith("empty "))
    verdict, seconds = empty.split()[1], float(empty.split()[2])
    assert verdict == "refused", empty
    assert seconds < 1.0, empty  # rejected at once, not dropped until a timeout
