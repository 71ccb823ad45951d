"""busybox in the host-program image behaves as upstream's for the commands docs use.

Debian's busybox lacks ``wget -T``/``--timeout`` (and segfaults on ``-T``) and ``nc -z``;
the image's wrappers provide them (podnet.dataplane.images.builtin). Run under crun,
in a pod, against nginx behind a Service and a port where nothing answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.live import require_live, run_cli, write_manifest

pytestmark = pytest.mark.kernel

SCRIPT = """
wget -qO- -T 2 http://web | grep -c Welcome; echo "RESULT w1=$?"
wget --spider --timeout=1 http://web 2>/dev/null; echo "RESULT spider=$?"
wget -q -T 1 -O- http://web:81 2>/dev/null; echo "RESULT refused=$?"
nc -z -w 1 web 80; echo "RESULT nc_open=$?"
nc -z -w 1 web 81 2>/dev/null; echo "RESULT nc_closed=$?"
nslookup web.default.svc.cluster.local >/dev/null; echo "RESULT nslookup=$?"
timeout 1 sleep 3 2>/dev/null; echo "RESULT timeout=$?"
ping -c1 -W2 "$(hostname -i)" >/dev/null; echo "RESULT ping=$?"
"""

MANIFEST = """apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}, {name: other, port: 81, targetPort: 81}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: busybox
      command: ['sh', '-c', SCRIPT]
"""


def test_busybox_commands_as_upstream(tmp_path: Path) -> None:
    require_live()
    manifest = write_manifest(tmp_path, MANIFEST.replace("SCRIPT", json.dumps(SCRIPT)))
    res = run_cli("run", "-f", str(manifest), "--timeout", "40", timeout=90)
    lines = res.pod_lines("default/client")
    got = dict(ln.split(" ", 1)[1].split("=") for ln in lines if ln.startswith("RESULT "))
    assert got == {
        "w1": "0",
        "spider": "0",
        "refused": "1",
        "nc_open": "0",
        "nc_closed": "1",
        "nslookup": "0",
        "timeout": "143",
        "ping": "0",
    }, res.out + res.err
    assert lines[0] == "2", lines  # nginx's page (two "Welcome" lines) through wget -T
    assert not any("Segmentation" in ln or "Terminated" in ln for ln in lines), lines
