"""``pods/ephemeralcontainers`` against ``podnet up`` with kubectl 1.37: ``kubectl debug``
adds an ephemeral container (a strategic-merge PATCH of the subresource, kubectl's
pkg/cmd/debug/debug.go debugByEphemeralContainer), a change or removal of one is a 422
(pkg/apis/core/validation ValidatePodEphemeralContainersUpdate), the main resource does
not take them, and discovery lists the subresource
(pkg/registry/core/pod/storage/storage.go EphemeralContainersREST)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: target}
spec:
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
"""
SUB = "/api/v1/namespaces/default/pods/target/ephemeralcontainers"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up")) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@pytest.fixture(scope="module")
def k(up: UpCluster) -> Kubectl:
    kubectl = up.kubectl("1.37")
    kubectl.ok("apply", "-f", "-", stdin=POD)
    return kubectl


def _ephemeral(k: Kubectl) -> list[dict[str, Any]]:
    pod = k.json("get", "pod", "target")
    found: list[dict[str, Any]] = pod["spec"].get("ephemeralContainers") or []
    return found


def _debug(k: Kubectl, name: str, *args: str) -> str:
    """Run ``kubectl debug`` (not attached) adding the container ``name``."""
    done = k("debug", "target", "--image=busybox", f"--container={name}", *args)
    assert done.rc == 0, done.err
    return name


def test_discovery_lists_the_subresource(k: Kubectl) -> None:
    v1 = json.loads(k.ok("get", "--raw", "/api/v1"))
    sub = [r for r in v1["resources"] if r["name"] == "pods/ephemeralcontainers"]
    assert len(sub) == 1 and sub[0]["kind"] == "Pod", sub
    assert sorted(sub[0]["verbs"]) == ["get", "patch", "update"]


def test_kubectl_debug_adds_ephemeral_containers(k: Kubectl) -> None:
    first = _debug(k, "debugger-a", "--target=main", "--", "sleep", "3600")
    second = _debug(k, "debugger-b", "--", "wget", "-qO-", "http://127.0.0.1:1/")
    by_name = {c["name"]: c for c in _ephemeral(k)}
    assert {first, second} <= set(by_name)
    assert by_name[first]["targetContainerName"] == "main"
    assert by_name[first]["command"] == ["sleep", "3600"]
    assert by_name[second]["imagePullPolicy"] == "Always"  # defaulted as a container
    through_sub = json.loads(k.ok("get", "--raw", SUB))
    assert through_sub["kind"] == "Pod"
    assert through_sub["spec"]["ephemeralContainers"] == _ephemeral(k)


def test_change_or_removal_is_422_and_the_main_resource_refuses(k: Kubectl) -> None:
    name = _debug(k, "debugger-c", "--", "true")
    before = _ephemeral(k)
    changed = {"spec": {"ephemeralContainers": [{"name": name, "image": "alpine"}]}}
    done = k(
        "patch", "pod", "target", "--subresource=ephemeralcontainers", "-p", json.dumps(changed)
    )
    assert done.rc != 0
    assert f'existing ephemeral containers "{name}" may not be changed' in done.err, done.err
    # kubectl replace --subresource sends a PUT of the whole pod; without the list: removal
    pod = json.loads(k.ok("get", "--raw", SUB))
    pod["spec"]["ephemeralContainers"] = [c for c in before if c["name"] != name]
    done = k("replace", "--subresource=ephemeralcontainers", "-f", "-", stdin=json.dumps(pod))
    assert done.rc != 0
    assert "may not be removed" in done.err, done.err
    ports = {
        "spec": {
            "ephemeralContainers": [
                {"name": "p1", "image": "busybox", "ports": [{"containerPort": 80}]}
            ]
        }
    }
    done = k("patch", "pod", "target", "--subresource=ephemeralcontainers", "-p", json.dumps(ports))
    assert done.rc != 0
    assert "ports: Forbidden: cannot be set for an Ephemeral Container" in done.err, done.err
    main = {"spec": {"ephemeralContainers": [{"name": "m1", "image": "busybox"}]}}
    done = k("patch", "pod", "target", "-p", json.dumps(main))
    assert done.rc != 0 and "Forbidden" in done.err, done.err
    assert _ephemeral(k) == before


def _statuses(k: Kubectl) -> dict[str, dict[str, Any]]:
    pod = k.json("get", "pod", "target")
    found = pod["status"].get("ephemeralContainerStatuses") or []
    return {s["name"]: s for s in found}


def test_the_kubelet_runs_an_ephemeral_container(k: Kubectl) -> None:
    name = _debug(k, "debugger-d", "--", "sh", "-c", "echo from-debugger")

    def logged() -> str:
        done = k("logs", "target", "-c", name)
        return done.out if done.rc == 0 and "from-debugger" in done.out else ""

    eventually(logged, timeout=20, what="the ephemeral container's log")

    def ended() -> dict[str, Any] | None:
        st = _statuses(k).get(name)
        return st if st is not None and "terminated" in st["state"] else None

    # it ran once and is never restarted (kuberuntime_manager.go computePodActions)
    st = eventually(ended, timeout=20, what="the ephemeral container terminated")
    assert st["state"]["terminated"]["exitCode"] == 0, st
    assert st["state"]["terminated"]["reason"] == "Completed", st
    assert st["restartCount"] == 0 and st["image"] == "busybox", st
    # the long-running one added earlier runs, the pod's own container too
    sleeper = eventually(
        lambda: (s := _statuses(k).get("debugger-a")) and "running" in s["state"] and s,
        timeout=20,
        what="debugger-a running",
    )
    assert sleeper["restartCount"] == 0
    pod = k.json("get", "pod", "target")
    assert [c["name"] for c in pod["status"]["containerStatuses"]] == ["main"]
    assert pod["status"]["phase"] == "Running"


def test_kubectl_debug_attaches_stdin(k: Kubectl) -> None:
    """``kubectl debug -i`` waits for the container to run, then attaches its stdin
    (kubectl sets no stdinOnce for it: the shell ends by its own ``exit``)."""
    done = k(
        "debug",
        "target",
        "--image=busybox",
        "--container=debugger-i",
        "-i",
        "--",
        "sh",
        stdin="echo through-attach; exit 0\n",
        timeout=60,
    )
    assert done.rc == 0, done.err
    assert "through-attach" in done.out, (done.out, done.err)
    logs = k.ok("logs", "target", "-c", "debugger-i")
    assert "through-attach" in logs


def test_debug_target_sees_the_target_processes(k: Kubectl) -> None:
    """``kubectl debug --target=main``: the debugger is in main's PID namespace (main's
    ``sleep 3600`` is pid 1 there); without a target it has a PID namespace of its own."""
    seen = _debug(k, "debugger-t", "--target=main", "--", "sh", "-c", "cat /proc/1/cmdline")
    alone = _debug(k, "debugger-u", "--", "sh", "-c", "cat /proc/1/cmdline")

    def logged(name: str) -> str:
        done = k("logs", "target", "-c", name)
        return done.out if done.rc == 0 and done.out.strip() else ""

    # main's pid 1: busybox's sleep (a built-in image runs it as the busybox applet)
    target_init = eventually(lambda: logged(seen), timeout=20, what="--target's log")
    assert target_init.rstrip("\n").endswith("sleep\x003600\x00"), target_init
    own_init = eventually(lambda: logged(alone), timeout=20, what="the log")
    assert own_init.startswith("cat\x00/proc/1/cmdline"), own_init  # itself (sh exec'd cat)
