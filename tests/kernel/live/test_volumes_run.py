"""``podnet run`` mounts volumes and resolves env from the ConfigMaps and Secrets of the
same files: its documents go through the same registry and kubelet as ``podnet up``
(podnet/live/node/volumes.py, envfrom.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.live import require_live, run_cli

pytestmark = pytest.mark.kernel

FILES = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: from-file}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {pw: s3cr3t}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo file=$(cat /cfg/k) V=$V PW=$PW ME=$ME; cat /shared/x"]
    env:
    - {name: V, valueFrom: {configMapKeyRef: {name: cfg, key: k}}}
    - {name: PW, valueFrom: {secretKeyRef: {name: creds, key: pw}}}
    - {name: ME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: shared, mountPath: /shared}
  initContainers:
  - name: init
    image: busybox
    command: [sh, -c, "echo from-init > /shared/x"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: shared, emptyDir: {}}
"""


def test_run_mounts_volumes_and_resolves_env_from_the_same_files(tmp_path: Path) -> None:
    require_live()
    path = tmp_path / "app.yaml"
    path.write_text(FILES)
    res = run_cli("run", "-f", str(path), "--timeout", "60", timeout=90)
    assert res.rc == 0, res.err
    assert "[default/client/c] file=from-file V=from-file PW=s3cr3t ME=client" in res.out, res.out
    assert "[default/client/c] from-init" in res.out, res.out
