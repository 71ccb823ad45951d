"""The Kubernetes task "Declare Network Policy" against ``podnet up``, with the task's
commands as written, through real kubectl 1.20 and 1.37:
https://kubernetes.io/docs/tasks/administer-cluster/declare-network-policy/

The task types ``wget --spider --timeout=1 nginx`` into ``kubectl run busybox --rm -ti
--image=busybox:1.28 -- /bin/sh``. The flow tests give the same command to the
non-interactive form (``--rm -i --restart=Never -- wget ...``); the ``-ti`` tests drive
the task's shell through a pty, as a user at a terminal would. The policy is the task's
``nginx-policy.yaml`` (examples/recipes/declare-network-policy; the task applies it from
k8s.io/examples, which needs the network).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, Done, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live
from support.paths import REPO

pytestmark = pytest.mark.kernel

POLICY = REPO / "examples" / "recipes" / "declare-network-policy" / "nginx-policy.yaml"
TYPED = "wget --spider --timeout=1 nginx"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up-declare")) as cluster:
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        assert k.ok("create", "deployment", "nginx", "--image=nginx") == (
            "deployment.apps/nginx created\n"
        )
        assert k.ok("expose", "deployment", "nginx", "--port=80") == "service/nginx exposed\n"
        k.ok("wait", "--for=condition=Available", "deployment/nginx", "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop(timeout=60)  # the shells' pods end their 30 s grace
        assert rc == 0, err


def _busybox(k: Kubectl, *labels: str) -> Done:
    """``kubectl run busybox --rm -i [--labels=...] --image=busybox:1.28`` running the
    command the task types, with --restart=Never so kubectl returns its exit code."""
    return k(
        "run", "busybox", "--rm", "-i", "--restart=Never", *labels,
        "--image=busybox:1.28", "--", *TYPED.split(), timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_declare_network_policy_flow(version: str, up: UpCluster) -> None:
    k = up.kubectl(version)
    k.ok("delete", "networkpolicy", "access-nginx", "--ignore-not-found")
    svc_pod = k.ok("get", "svc,pod")
    assert "service/nginx" in svc_pod and "pod/nginx-" in svc_pod and "Running" in svc_pod

    got = _busybox(k)
    assert got.rc == 0, got
    assert "remote file exists\n" in got.out, got

    applied = k.ok("apply", "-f", str(POLICY))
    assert applied == "networkpolicy.networking.k8s.io/access-nginx created\n"

    got = _busybox(k)
    assert got.rc == 1, got
    assert "wget: download timed out\n" in got.out, got

    got = _busybox(k, "--labels=access=true")
    assert got.rc == 0, got
    assert "remote file exists\n" in got.out, got


def _shell(k: Kubectl, name: str, *labels: str, typed: bytes, want: bytes) -> bytes:
    """``kubectl run NAME --rm -ti [--labels] --image=busybox:1.28 -- /bin/sh`` on a pty:
    type ``typed``, read until ``want`` (or 20 s), type ``exit``; all kubectl printed."""
    argv = [str(k.binary), "run", name, "--rm", "-ti", *labels, "--image=busybox:1.28"]
    env = {**os.environ, "KUBECONFIG": str(k.kubeconfig), "HOME": str(k.kubeconfig.parent)}
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*argv, "--", "/bin/sh"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    out = b""

    def read_until(marker: bytes, seconds: float) -> None:
        nonlocal out
        deadline = time.monotonic() + seconds
        while marker not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: kubectl closed the terminal
                return
            if not chunk:
                return
            out += chunk

    try:
        read_until(b"If you don't see a command prompt", 30)
        os.write(master, typed)
        read_until(want, 20)
        os.write(master, b"exit\n")
        read_until(b"deleted", 20)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
    return out


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_declare_network_policy_interactive_shells(version: str, up: UpCluster) -> None:
    """The task's shells, Enter typed as a terminal sends it (CR), left with ``exit``.
    The task names every shell ``busybox``; here each has its own name, because after
    ``exit`` kubelet restarts the shell (restartPolicy Always), which as PID 1 ignores
    the ``--rm`` SIGTERM for the 30 s grace, and a new pod of the same name waits
    (AlreadyExists upstream, Pending on podnet) until the old one is gone."""
    k = up.kubectl(version)
    k.ok("apply", "-f", str(POLICY))
    line = f"{TYPED}\r".encode()
    tag = version.replace(".", "")  # short: the console socket path has a length limit
    for name, labels, want in (
        (f"bb{tag}", (), b"wget: download timed out"),
        (f"bb{tag}ok", ("--labels=access=true",), b"remote file exists"),
    ):
        out = _shell(k, name, *labels, typed=line, want=want)
        assert b"/ # " in out, out  # busybox sh's prompt: the shell has a terminal
        assert b"Connecting to nginx (" in out and want in out, out
        assert f'pod "{name}" deleted'.encode() in out, out


def test_declare_network_policy_shell_with_a_longer_name(up: UpCluster) -> None:
    """``kubectl run -ti`` makes a pod whose one container has the pod's name, stdin and
    a tty; a name like ``busybox-shell-1`` must start as ``busybox`` does."""
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    name = "busybox-shell-1"
    container: dict[str, object] = {"name": name, "image": "busybox:1.28"}
    container.update(command=["/bin/sh"], stdin=True, stdinOnce=True, tty=True)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}}
    pod["spec"] = {"containers": [container]}
    k.ok("apply", "-f", "-", stdin=json.dumps(pod))

    def first_start() -> str:
        st = (k.json("get", "pod", name).get("status") or {}).get("containerStatuses") or []
        if not st:
            return ""
        if "running" in (st[0].get("state") or {}):
            return "running"
        last = (st[0].get("lastState") or {}).get("terminated") or {}
        return str(last.get("reason") or "")

    try:
        assert eventually(first_start, 30, f"{name} tried to start") == "running"
    finally:
        k.ok("delete", "pod", name, "--grace-period=0", "--force")
