"""``podnet exec`` without a kernel cluster: the registry round trip and the argv."""

from __future__ import annotations

import os

import pytest

from podnet.errors import ClusterError
from podnet.live.exec import exec_argv, exec_env, pod_key
from podnet.live.registry import Announcer, describe_cluster, running_clusters

DOC = {
    "pid": 10,
    "pods": {"default/web": 1234, "kube-system/coredns-0": 99},
    "hostnames": {"default/web": "web-host"},
    "path": "/tmp/x/busybox-bin:/usr/bin:/bin",
}


def test_announcer_is_listed_answers_and_disappears() -> None:
    ann = Announcer(lambda: DOC)
    try:
        assert os.getpid() in running_clusters()
        assert describe_cluster(os.getpid()) == DOC
    finally:
        ann.close()
    assert os.getpid() not in running_clusters()
    with pytest.raises(ClusterError):
        describe_cluster(os.getpid(), timeout=1)


def test_a_failing_description_is_a_cluster_error() -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("tearing down")

    ann = Announcer(broken)
    try:
        with pytest.raises(ClusterError):
            describe_cluster(os.getpid())
    finally:
        ann.close()


def test_exec_argv_enters_the_pods_namespaces() -> None:
    argv = exec_argv(
        DOC, "default/web", ["wget", "-qO-", "http://x"], "/bin/nsenter", enter_user=False
    )
    assert argv == [
        "/bin/nsenter",
        "--net=/proc/1234/ns/net",
        "--uts=/proc/1234/ns/uts",
        "--mount=/proc/1234/ns/mnt",
        "--pid=/proc/1234/ns/pid",
        "--wd=/",
        "--",
        "wget",
        "-qO-",
        "http://x",
    ]


def test_exec_argv_rootless_enters_the_user_namespace_first_and_defaults_to_sh() -> None:
    argv = exec_argv(DOC, "default/web", [], "nsenter", enter_user=True)
    assert argv[1:3] == ["--user=/proc/1234/ns/user", "--preserve-credentials"]
    assert argv[-2:] == ["--", "sh"]


def test_unknown_pod_is_a_cluster_error() -> None:
    with pytest.raises(ClusterError):
        exec_argv(DOC, "default/nope", ["true"], "nsenter", enter_user=False)


def test_pod_key_and_env() -> None:
    assert pod_key("web", "default") == "default/web"
    assert pod_key("kube-system/coredns-0", "default") == "kube-system/coredns-0"
    assert pod_key("x", "shop") == "shop/x"
    env = exec_env(DOC, "default/web", {"TERM": "xterm", "SECRET": "no"})
    assert env == {"PATH": DOC["path"], "HOSTNAME": "web-host", "TERM": "xterm"}
    assert exec_env(DOC, "kube-system/coredns-0", {})["HOSTNAME"] == "coredns-0"
