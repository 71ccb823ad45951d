"""Pod volumes and env from ConfigMaps/Secrets against ``podnet up`` with kubectl 1.37
and real crun containers (busybox): what kubelet's volume plugins (pkg/volume/configmap,
secret, emptydir, downwardapi, projected) and ``makeEnvironmentVariables``
(pkg/kubelet/kubelet_pods.go) give a pod, as a user sees it with kubectl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.kube import Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live

from podnet.live.statedir import base_dir

pytestmark = pytest.mark.kernel

OBJECTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {greeting: hello, app.conf: "a=1", color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cr3t, user: admin}
---
apiVersion: v1
kind: Pod
metadata: {name: vols, labels: {app: demo}}
spec:
  containers:
  - name: writer
    image: busybox
    command: [sh, -c, "echo shared > /cache/x; echo mem > /mem/y; sleep 3600"]
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: mem, mountPath: /mem}
  - name: reader
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: config, mountPath: /etc/app.conf, subPath: app.conf}
    - {name: secret, mountPath: /etc/secret}
    - {name: cache, mountPath: /cache, readOnly: true}
    - {name: mem, mountPath: /mem}
    - {name: info, mountPath: /etc/podinfo}
    - {name: all, mountPath: /etc/all}
  volumes:
  - {name: config, configMap: {name: app-config}}
  - {name: secret, secret: {secretName: creds, defaultMode: 0400,
      items: [{key: password, path: pw}, {key: user, path: u, mode: 0440}]}}
  - {name: cache, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: note, fieldRef: {fieldPath: "metadata.annotations['note']"}}
  - name: all
    projected:
      sources:
      - configMap: {name: app-config, items: [{key: color, path: color}]}
      - secret: {name: creds, items: [{key: user, path: user}]}
      - downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: envs}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "echo $(GREETING)-$(MY_IP) > /tmp/out; sleep 3600"]
    envFrom:
    - {prefix: CFG_, configMapRef: {name: app-config}}
    - secretRef: {name: creds}
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: MISSING, valueFrom: {configMapKeyRef: {name: nope, key: k, optional: true}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MY_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: MEM_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: COMBINED, value: "$(MY_NAME)/$(GREETING)/$$(MY_NAME)"}
    resources: {limits: {memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fsgroup}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000}
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: secret, mountPath: /etc/secret}
    - {name: data, mountPath: /data}
    - {name: mem, mountPath: /mem}
  volumes:
  - {name: secret, secret: {secretName: creds, defaultMode: 0400}}
  - {name: data, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory}}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up")) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err
        left = list(base_dir().glob(f"podnet-{cluster.proc.pid}-*"))
        assert left == [], left  # the volumes went with the state directory


@pytest.fixture(scope="module")
def k(up: UpCluster) -> Kubectl:
    kubectl = up.kubectl("1.37")
    kubectl.ok("apply", "-f", "-", stdin=OBJECTS)
    for pod in ("vols", "envs", "fsgroup"):
        kubectl.ok("wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=60s", timeout=70)
    return kubectl


def state_dirs(up: UpCluster) -> list[Path]:
    return list(base_dir().glob(f"podnet-{up.proc.pid}-*"))


def sh(k: Kubectl, pod: str, container: str, script: str) -> str:
    return k.ok("exec", pod, "-c", container, "--", "sh", "-c", script).strip()


def test_configmap_volume_and_an_update_seen(k: Kubectl) -> None:
    assert sh(k, "vols", "reader", "cat /etc/config/greeting") == "hello"
    assert sh(k, "vols", "reader", "cat /etc/app.conf") == "a=1"  # subPath: one file
    names = sh(k, "vols", "reader", "ls /etc/config").split()
    assert names == ["app.conf", "color", "greeting"], names
    # read-only, as kubelet mounts every configMap volume
    done = k("exec", "vols", "-c", "reader", "--", "touch", "/etc/config/new")
    assert done.rc != 0 and "Read-only file system" in done.err, done
    k.ok("patch", "configmap", "app-config", "-p", '{"data":{"greeting":"bye"}}')
    eventually(
        lambda: sh(k, "vols", "reader", "cat /etc/config/greeting") == "bye",
        20,
        "the update in the mounted volume",
    )
    # a subPath mount is not updated (upstream: subPath mounts get no updates)
    k.ok("patch", "configmap", "app-config", "-p", '{"data":{"app.conf":"a=2"}}')
    eventually(lambda: sh(k, "vols", "reader", "cat /etc/config/app.conf") == "a=2", 20, "")
    assert sh(k, "vols", "reader", "cat /etc/app.conf") == "a=1"


def test_secret_items_and_modes(k: Kubectl) -> None:
    assert sh(k, "vols", "reader", "cat /etc/secret/pw") == "s3cr3t"
    assert sh(k, "vols", "reader", "cat /etc/secret/u") == "admin"
    modes = sh(k, "vols", "reader", "stat -L -c %a /etc/secret/pw /etc/secret/u").split()
    assert modes == ["400", "440"], modes


def test_emptydir_shared_by_two_containers(k: Kubectl) -> None:
    assert sh(k, "vols", "reader", "cat /cache/x") == "shared"
    done = k("exec", "vols", "-c", "reader", "--", "touch", "/cache/z")  # readOnly here
    assert done.rc != 0, done
    assert sh(k, "vols", "reader", "cat /mem/y") == "mem"
    mounts = sh(k, "vols", "reader", "grep ' /mem ' /proc/mounts")
    assert mounts.split()[2] == "tmpfs" and "size=8192k" in mounts, mounts


def test_fs_group_gives_the_volumes_and_the_processes_its_group(k: Kubectl) -> None:
    """kubelet adds fsGroup to the container's groups and SetVolumeOwnership gives the
    volumes that group: a 0400 secret is 0440 and readable by a non-root user, what it
    writes in an emptyDir (setgid) belongs to the group."""
    assert sh(k, "fsgroup", "main", "id -u; id -g; id -G").split() == [
        "1000",
        "3000",
        "3000",
        "2000",
    ]
    assert sh(k, "fsgroup", "main", "stat -L -c '%a %g' /etc/secret/password") == "440 2000"
    assert sh(k, "fsgroup", "main", "cat /etc/secret/password") == "s3cr3t"
    for d in ("/data", "/mem"):
        assert sh(k, "fsgroup", "main", f"stat -c '%a %g' {d}") == "2777 2000", d
        made = sh(k, "fsgroup", "main", f"touch {d}/f && stat -c '%u %g' {d}/f")
        assert made == "1000 2000", (d, made)
    # the service account token: the pod's one user's, 0600 then 0640 for the group
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert sh(k, "fsgroup", "main", f"stat -L -c '%u %g %a' {token}") == "1000 2000 640"
    assert sh(k, "fsgroup", "main", f"wc -c < {token}") != "0"


def test_downward_api_and_projected(k: Kubectl) -> None:
    assert sh(k, "vols", "reader", "cat /etc/podinfo/labels") == 'app="demo"'
    assert sh(k, "vols", "reader", "cat /etc/podinfo/name") == "vols"
    assert sh(k, "vols", "reader", "cat /etc/all/color /etc/all/user /etc/all/ns") == (
        "blueadmindefault"
    )
    k.ok("label", "pod", "vols", "tier=web")
    eventually(
        lambda: "tier=" in sh(k, "vols", "reader", "cat /etc/podinfo/labels"),
        20,
        "the new label in the downwardAPI file",
    )
    assert sh(k, "vols", "reader", "cat /etc/podinfo/note") == ""
    k.ok("annotate", "pod", "vols", "note=hello")
    eventually(
        lambda: sh(k, "vols", "reader", "cat /etc/podinfo/note") == "hello",
        20,
        "the new annotation in the downwardAPI file",
    )


def test_env_from_objects_fields_and_expansion(k: Kubectl) -> None:
    env = dict(
        line.split("=", 1) for line in k.ok("exec", "envs", "--", "env").splitlines() if "=" in line
    )
    ip = k.json("get", "pod", "envs")["status"]["podIP"]
    assert env["GREETING"] == "hello" and env["PASSWORD"] == "s3cr3t"
    assert env["CFG_color"] == "blue" and env["CFG_app.conf"] == "a=1"  # envFrom, prefix
    assert env["user"] == "admin"  # secretRef without a prefix
    assert "MISSING" not in env  # an optional key that is missing: no variable
    assert env["MY_IP"] == ip and env["MY_NAME"] == "envs" and env["MY_NODE"]
    assert env["MEM_LIMIT"] == "64"
    assert env["COMBINED"] == "envs/hello/$(MY_NAME)"
    assert k.ok("exec", "envs", "--", "cat", "/tmp/out").strip() == f"hello-{ip}"


LATE = """\
apiVersion: v1
kind: Pod
metadata: {name: late}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
  volumes: [{name: cfg, configMap: {name: late-config}}]
"""
LATE_ENV = """\
apiVersion: v1
kind: Pod
metadata: {name: late-env}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    env: [{name: V, valueFrom: {configMapKeyRef: {name: late-env, key: v}}}]
"""


def _status(k: Kubectl, pod: str) -> str:
    """kubectl's STATUS column."""
    return k.ok("get", "pod", pod, "--no-headers").split()[2]


def test_failed_mount_then_start_when_the_configmap_comes(k: Kubectl) -> None:
    k.ok("apply", "-f", "-", stdin=LATE)
    want = 'MountVolume.SetUp failed for volume "cfg" : configmap "late-config" not found'

    def failed_mount() -> bool:
        out = k.ok("get", "events", "--field-selector", "involvedObject.name=late")
        return "FailedMount" in out and want in out

    eventually(failed_mount, 30, "the FailedMount Event")
    assert _status(k, "late") == "ContainerCreating"
    k.ok("create", "configmap", "late-config", "--from-literal=k=v1")
    k.ok("wait", "--for=condition=Ready", "pod/late", "--timeout=30s", timeout=40)
    assert k.ok("exec", "late", "--", "cat", "/cfg/k") == "v1"


def test_create_container_config_error_then_start(k: Kubectl) -> None:
    k.ok("apply", "-f", "-", stdin=LATE_ENV)
    eventually(lambda: _status(k, "late-env") == "CreateContainerConfigError", 30, "status")
    k.ok("create", "configmap", "late-env", "--from-literal=other=x")
    pod = k.json("get", "pod", "late-env")
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError"
    eventually(
        lambda: (
            "couldn't find key v in ConfigMap default/late-env"
            in k.ok("get", "pod", "late-env", "-o", "jsonpath={.status.containerStatuses[0].state}")
        ),
        20,
        "the missing key's message",
    )
    k.ok("patch", "configmap", "late-env", "-p", '{"data":{"v":"found"}}')
    k.ok("wait", "--for=condition=Ready", "pod/late-env", "--timeout=30s", timeout=40)
    assert k.ok("exec", "late-env", "--", "printenv", "V").strip() == "found"


HOSTPATH = """\
apiVersion: v1
kind: Pod
metadata: {name: hostpath}
spec:
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"],
     volumeMounts: [{name: root, mountPath: /host}]}
  volumes: [{name: root, hostPath: {path: /}}]
"""


def test_hostpath_is_refused(k: Kubectl) -> None:
    k.ok("apply", "-f", "-", stdin=HOSTPATH)
    status = eventually(
        lambda: (s := k.json("get", "pod", "hostpath")["status"]).get("phase") == "Failed" and s,
        30,
        "the pod refused",
    )
    assert status["reason"] == "Forbidden" and "hostPath" in status["message"], status
    assert _status(k, "hostpath") == "Forbidden"
    done = k("exec", "hostpath", "--", "ls", "/host")
    assert done.rc != 0


CLAIM = """\
apiVersion: v1
kind: Pod
metadata: {name: claim}
spec:
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"],
     volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: data-0}}]
"""


def test_a_pod_of_a_missing_claim_waits_unscheduled(k: Kubectl) -> None:
    """The scheduler's VolumeBinding PreFilter: no node for a pod whose claim does not
    exist, with its reason (Pending, FailedScheduling), never Failed."""
    k.ok("apply", "-f", "-", stdin=CLAIM)
    want = '0/1 nodes are available: persistentvolumeclaim "data-0" not found.'
    eventually(
        lambda: want in k.ok("get", "events", "--field-selector", "involvedObject.name=claim"),
        30,
        "the FailedScheduling Event",
    )
    assert _status(k, "claim") == "Pending"
    pod = k.json("get", "pod", "claim")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")


def test_nothing_left_after_the_pod_is_deleted(up: UpCluster, k: Kubectl) -> None:
    uid = k.json("get", "pod", "late")["metadata"]["uid"]
    (state,) = state_dirs(up)
    mine = state / "volumes" / f"default_late_{uid}"
    assert (mine / "v" / "cfg" / "..data").is_symlink()
    k.ok("delete", "pod", "late", "--grace-period=1", timeout=60)
    assert not mine.exists()


SUBPATHS = """\
apiVersion: v1
kind: Pod
metadata: {name: subpaths}
spec:
  initContainers:
  - name: gen
    image: busybox
    command: [sh, -c, "echo generated > /work/conf.txt; ln -s /etc /work/escape"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: work, mountPath: /etc/conf.txt, subPath: conf.txt}]
  - name: sneaky
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: work, mountPath: /host-etc, subPath: escape}]
  volumes: [{name: work, emptyDir: {}}]
"""


def test_subpath_of_an_init_containers_file_and_no_escape_by_symlink(k: Kubectl) -> None:
    """A subPath binds what an init container wrote (kubelet prepares subPaths at each
    container's start); one that an earlier container made a symlink out of the volume
    is refused (CVE-2017-1002101): CreateContainerConfigError, the host's /etc unseen."""
    k.ok("apply", "-f", "-", stdin=SUBPATHS)

    def states() -> dict[str, Any]:
        pod = k.json("get", "pod", "subpaths")
        return {c["name"]: c["state"] for c in pod["status"].get("containerStatuses") or ()}

    found = eventually(
        lambda: (
            (s := states()).get("app", {}).get("running")
            and s["sneaky"].get("waiting", {}).get("reason") != "ContainerCreating"
            and s
        ),
        40,
        "app running, sneaky refused",
    )
    waiting = found["sneaky"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError", waiting
    assert "failed to prepare subPath" in waiting["message"], waiting
    assert k.ok("exec", "subpaths", "-c", "app", "--", "cat", "/etc/conf.txt") == "generated\n"
