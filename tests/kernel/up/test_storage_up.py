"""Persistent volumes against ``podnet up`` with kubectl 1.37, 1.20 and real crun
containers, as a user of kind (whose default class ``standard`` runs a local-path
provisioner) meets them: a claim of the default class is bound to a new volume, a pod
waiting for the claim starts once it is bound, what it wrote is there for the next pod
of the claim and after ``podnet up`` is restarted on the same data directory; a
StatefulSet's claim templates give each ordinal its own claim, kept when its pod is
replaced; a claim being deleted waits for its pod, and its volume and directory go
after it (reclaim policy Delete)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live, run_cli

pytestmark = pytest.mark.kernel

WRITER = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "{script}; sleep 3600"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: data}}}}]
"""
CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""
STATEFULSET = """\
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: [sh, -c, "[ -f /var/db/first ] || hostname > /var/db/first; sleep 3600"]
        volumeMounts: [{name: store, mountPath: /var/db}]
  volumeClaimTemplates:
  - metadata: {name: store}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 100Mi}}
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage") / "data"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up"), data_dir=data_dir) as cluster:
        yield cluster
        if cluster.proc.poll() is None:  # the restart test stops it itself
            rc, err = cluster.stop()
            assert rc == 0, err


@pytest.fixture(scope="module")
def k(up: UpCluster) -> Kubectl:
    return up.kubectl(KUBECTL_VERSIONS[-1])


def sh(k: Kubectl, pod: str, script: str) -> str:
    return k.ok("exec", pod, "--", "sh", "-c", script).strip()


def _phase(k: Kubectl, kind: str, name: str) -> str:
    return str(k.json("get", kind, name).get("status", {}).get("phase", ""))


def test_the_default_class_is_there(k: Kubectl) -> None:
    got = k.ok("get", "storageclass")
    assert got.split("\n")[0].split() == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ], got
    assert got.split("\n")[1].split()[:4] == [
        "standard",
        "(default)",
        "podnet.io/local-path",
        "Delete",
    ], got


def test_a_waiting_pod_starts_once_its_claim_is_bound(k: Kubectl, up: UpCluster) -> None:
    k.ok("apply", "-f", "-", stdin=WRITER.format(name="first", script="echo hello > /data/f"))
    want = '0/1 nodes are available: persistentvolumeclaim "data" not found.'
    eventually(
        lambda: want in k.ok("get", "events", "--field-selector", "involvedObject.name=first"),
        30,
        "the FailedScheduling Event",
    )
    k.ok("apply", "-f", "-", stdin=CLAIM)
    eventually(lambda: _phase(k, "pvc", "data") == "Bound", 20, "the claim bound")
    row = k.ok("get", "pvc", "data", "--no-headers").split()
    volume = k.json("get", "pvc", "data")["spec"]["volumeName"]
    assert row[:6] == ["data", "Bound", volume, "1Gi", "RWO", "standard"], row
    pv = k.ok("get", "pv", volume, "--no-headers").split()
    assert pv[:7] == [volume, "1Gi", "RWO", "Delete", "Bound", "default/data", "standard"], pv
    k.ok("wait", "--for=condition=Ready", "pod/first", "--timeout=60s", timeout=70)
    assert sh(k, "first", "cat /data/f") == "hello"
    # the file is in the volume's directory, in the data directory
    assert (up.data_dir / "pv" / volume / "f").read_text() == "hello\n"


def test_the_next_pod_of_the_claim_finds_the_data(k: Kubectl, up: UpCluster) -> None:
    k.ok("delete", "pod", "first", "--grace-period=1", timeout=60)
    k.ok("apply", "-f", "-", stdin=WRITER.format(name="second", script="true"))
    k.ok("wait", "--for=condition=Ready", "pod/second", "--timeout=60s", timeout=70)
    assert sh(k, "second", "cat /data/f") == "hello"
    # kubectl 1.20 too (it prints the server's Table)
    row = up.kubectl(KUBECTL_VERSIONS[0]).ok("get", "pvc", "data", "--no-headers").split()
    assert row[:2] == ["data", "Bound"], row


def test_a_claim_of_the_default_class_cannot_grow(k: Kubectl) -> None:
    """As kind's standard class, podnet's sets no allowVolumeExpansion: the resize
    admission refuses a bigger request."""
    patch = '{"spec":{"resources":{"requests":{"storage":"5Gi"}}}}'
    got = k("patch", "pvc", "data", "-p", patch)
    assert got.rc == 1, got
    assert got.err.strip() == (
        'Error from server (Forbidden): persistentvolumeclaims "data" is forbidden: only '
        "dynamically provisioned pvc can be resized and the storageclass that provisions "
        "the pvc must support resize"
    ), got


def test_statefulset_claims_per_ordinal_kept_across_pods(k: Kubectl) -> None:
    k.ok("apply", "-f", "-", stdin=STATEFULSET)
    for i in (0, 1):
        k.ok("wait", "--for=condition=Ready", f"pod/db-{i}", "--timeout=90s", timeout=100)
        assert _phase(k, "pvc", f"store-db-{i}") == "Bound"
        assert sh(k, f"db-{i}", "cat /var/db/first") == f"db-{i}"
    k.ok("delete", "pod", "db-0", "--grace-period=1", timeout=60)

    def replaced() -> bool:
        pod = k.json("get", "pod", "db-0")
        ready = [c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"]
        return bool(ready and ready[0]["status"] == "True")

    eventually(replaced, 60, "db-0 made again")
    assert sh(k, "db-0", "cat /var/db/first") == "db-0"  # its own claim, not a new one


EPHEMERAL = """\
apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "echo scratch > /scratch/f; sleep 3600"]
    volumeMounts: [{name: work, mountPath: /scratch}]
  volumes:
  - name: work
    ephemeral:
      volumeClaimTemplate:
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_a_generic_ephemeral_volume_lives_and_goes_with_its_pod(k: Kubectl) -> None:
    k.ok("apply", "-f", "-", stdin=EPHEMERAL)
    k.ok("wait", "--for=condition=Ready", "pod/scratch", "--timeout=60s", timeout=70)
    claim = k.json("get", "pvc", "scratch-work")
    assert claim["status"]["phase"] == "Bound"
    assert claim["metadata"]["ownerReferences"][0]["name"] == "scratch"
    assert sh(k, "scratch", "cat /scratch/f") == "scratch"
    assert " /scratch " in sh(k, "scratch", "cat /proc/mounts")  # the claim's bind
    volume = claim["spec"]["volumeName"]
    k.ok("delete", "pod", "scratch", "--grace-period=1", timeout=60)
    eventually(lambda: k("get", "pvc", "scratch-work").rc != 0, 30, "its claim collected")
    eventually(lambda: k("get", "pv", volume).rc != 0, 30, "its volume gone")


def test_a_claim_in_use_waits_for_its_pod_then_its_volume_goes(k: Kubectl, up: UpCluster) -> None:
    volume = k.json("get", "pvc", "data")["spec"]["volumeName"]
    k.ok("delete", "pvc", "data", "--wait=false")
    got = k.ok("get", "pvc", "data", "--no-headers").split()
    assert got[1] == "Terminating", got  # kubernetes.io/pvc-protection: "second" uses it
    assert sh(k, "second", "cat /data/f") == "hello"
    k.ok("delete", "pod", "second", "--grace-period=1", timeout=60)
    eventually(lambda: k("get", "pvc", "data").rc != 0, 30, "the claim gone")
    eventually(lambda: k("get", "pv", volume).rc != 0, 30, "its volume gone")
    assert not (up.data_dir / "pv" / volume).exists()


def test_data_outlives_a_restart_on_the_same_data_dir(
    tmp_path: Path, up: UpCluster, data_dir: Path
) -> None:
    """Stopped and started again with the same --data-dir, as after a node reboot: the
    StatefulSet's pods are made again and find their claims' files."""
    kubectl = KUBECTL_VERSIONS[-1]
    rc, err = up.stop()
    assert rc == 0, err
    with podnet_up(tmp_path, data_dir=data_dir) as again:
        k = again.kubectl(kubectl)
        k.ok("wait", "--for=condition=Ready", "pod/db-1", "--timeout=90s", timeout=100)
        assert sh(k, "db-1", "cat /var/db/first") == "db-1"
        rc, err = again.stop()
        assert rc == 0, err


RUN = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: write}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, "echo kept > /data/f"],
         volumeMounts: [{name: d, mountPath: /data}]}
      volumes: [{name: d, persistentVolumeClaim: {claimName: shared}}]
---
apiVersion: v1
kind: Pod
metadata: {name: read}
spec:
  restartPolicy: Never
  initContainers:
  - {name: wait, image: busybox, command: [sh, -c, "until [ -f /data/f ]; do sleep 0.1; done"],
     volumeMounts: [{name: d, mountPath: /data}]}
  containers:
  - {name: main, image: busybox, command: [cat, /data/f],
     volumeMounts: [{name: d, mountPath: /data}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: shared}}]
"""


def test_podnet_run_gives_claims_volumes_too(tmp_path: Path) -> None:
    """``podnet run`` is the same core: a claim in the files is provisioned (in the
    run's state directory, gone with it) and shared by the pods that name it."""
    require_live()
    path = tmp_path / "run.yaml"
    path.write_text(RUN)
    got = run_cli("run", "-f", str(path), "--timeout", "60", timeout=90)
    assert got.rc == 0, got
    assert "[default/read/main] kept" in got.out, got  # its init container waited
