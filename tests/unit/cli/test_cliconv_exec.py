"""``podnet exec`` parsing as kubectl exec's: options before or after POD, the command
after ``--``, ``-it``, TYPE/NAME; run in-process against a real announcement socket
(podnet.live.registry) and a real exec endpoint (podnet.live.exec) whose pods are
processes of this machine (support.local_exec)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from support.local_exec import HostCluster, pod

from podnet.cli.exec import parse_target, workload_pod
from podnet.cli.main import build_parser, main, parse
from podnet.errors import ClusterError
from podnet.live.exec import ExecEndpoint
from podnet.live.registry import Announcer


def _args(*argv: str) -> Any:
    return parse(build_parser(["exec"]), ["exec", *argv])


@pytest.mark.parametrize(
    ("argv", "pod", "namespace", "command"),
    [
        (["web"], "web", None, []),
        (["web", "-n", "shop"], "web", "shop", []),  # -n after the pod: podnet's, not CMD's
        (["-n", "shop", "web", "--", "ls", "-la"], "web", "shop", ["ls", "-la"]),
        (["web", "-n", "shop", "--", "sh", "-c", "a -- b"], "web", "shop", ["sh", "-c", "a -- b"]),
        (
            ["web", "--", "env", "-n", "x", "--", "y"],
            "web",
            None,
            ["env", "-n", "x", "--", "y"],
        ),
        (["deploy/web", "--namespace=shop", "--"], "deploy/web", "shop", []),
    ],
)
def test_flags_before_or_after_the_pod(
    argv: list[str], pod: str, namespace: str, command: list[str]
) -> None:
    args = _args(*argv)
    assert (args.pod, args.namespace, args.command) == (pod, namespace, command)


def test_it_c_and_global_flags_anywhere() -> None:
    args = _args("-it", "web", "-c", "box", "-v", "--", "sh")
    assert (args.stdin, args.tty, args.container, args.verbose, args.command) == (
        True,
        True,
        "box",
        1,
        ["sh"],
    )
    args = parse(build_parser(["exec"]), ["--color=never", "exec", "web", "-ti"])
    assert (args.stdin, args.tty, args.color) == (True, True, "never")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["web", "ls"], "exec [POD] [COMMAND] is not supported; use exec [POD] -- [COMMAND]"),
        (["web", "-x", "--", "ls"], "unrecognized arguments: -x"),
        (["--", "ls"], "the following arguments are required: POD"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["exec", *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_other_verbs_keep_plain_parsing(capsys: pytest.CaptureFixture[str]) -> None:
    """Only a verb that asks for it is split at --."""
    with pytest.raises(SystemExit):
        main(["lint", "--rules", "--", "x"])
    assert "unrecognized arguments: -- x" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("web", ("", "ns", "web")),
        ("shop/web", ("", "shop", "web")),
        ("pod/web", ("", "ns", "web")),
        ("po/web", ("", "ns", "web")),
        ("pod/shop/web", ("", "shop", "web")),
        ("deploy/web", ("Deployment", "ns", "web")),
        ("Deployment/web", ("Deployment", "ns", "web")),
        ("deployments/web", ("Deployment", "ns", "web")),
        ("shop/deploy/web", ("Deployment", "shop", "web")),
        ("sts/db", ("StatefulSet", "ns", "db")),
        ("ds/agent", ("DaemonSet", "ns", "agent")),
        ("rs/web-1", ("ReplicaSet", "ns", "web-1")),
        ("job/x", ("Job", "ns", "x")),
    ],
)
def test_parse_target(spec: str, expected: tuple[str, str, str]) -> None:
    assert parse_target(spec, "ns") == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("svc/web", "Service"),
        ("a/b/c", "unknown resource type 'b'"),
        ("deploy/", "bad pod"),
        ("a/b/c/d", "bad pod"),
    ],
)
def test_parse_target_rejects(spec: str, message: str) -> None:
    with pytest.raises(ClusterError, match=message):
        parse_target(spec, "ns")


PODS = {"shop/web-7d9-b": 1, "shop/web-7d9-a": 1, "shop/db-0": 1, "other/web-7d9-c": 1}
OWNERS = {
    "shop/web-7d9-b": "ReplicaSet/web-7d9",
    "shop/web-7d9-a": "ReplicaSet/web-7d9",
    "shop/db-0": "StatefulSet/db",
    "other/web-7d9-c": "ReplicaSet/web-7d9",
}


def test_workload_pod_is_the_first_of_its_pods() -> None:
    assert workload_pod("Deployment", "shop", "web", PODS, OWNERS) == "shop/web-7d9-a"
    assert workload_pod("ReplicaSet", "other", "web-7d9", PODS, OWNERS) == "other/web-7d9-c"
    assert workload_pod("StatefulSet", "shop", "db", PODS, OWNERS) == "shop/db-0"
    with pytest.raises(ClusterError, match="no pods of deployment/db in namespace shop"):
        workload_pod("Deployment", "shop", "db", PODS, OWNERS)


@pytest.fixture
def cluster() -> Iterator[dict[str, Any]]:
    """This process as a ``podnet run``: announced (podnet.live.registry) and serving
    exec (podnet.live.exec) for pods that are processes of this machine."""
    doc: dict[str, Any] = {"pid": os.getpid(), "pods": PODS, "owners": OWNERS}
    pods = [pod(key, "main", "side") for key in PODS]
    announcer = Announcer(lambda: doc)
    endpoint = ExecEndpoint(HostCluster(pods).as_live(), "run")
    try:
        yield doc
    finally:
        endpoint.close()
        announcer.close()


SHOW = ["--", "sh", "-c", "echo $POD $CONTAINER"]


def test_exec_deploy_enters_its_first_pod(
    cluster: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    me = str(os.getpid())
    assert main(["exec", "--cluster", me, "deploy/web", "-n", "shop", *SHOW]) == 0
    out, err = capfd.readouterr()
    assert out == "shop/web-7d9-a main\n"
    assert err == 'Defaulted container "main" out of: main, side\n'  # kubectl's note


def test_exec_without_cluster_flag_finds_the_run(
    cluster: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["exec", "shop/db-0", "-c", "side", *SHOW]) == 0
    assert capfd.readouterr().out == "shop/db-0 side\n"


def test_exit_code_stdin_and_errors_as_kubectl(
    cluster: dict[str, Any], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["exec", "shop/db-0", "--", "sh", "-c", "exit 3"]) == 3
    assert capfd.readouterr().err.endswith("command terminated with exit code 3\n")
    read, write = os.pipe()
    os.write(write, b"through\n")
    os.close(write)
    with os.fdopen(read, "r") as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        assert main(["exec", "-i", "shop/db-0", "-c", "main", "--", "cat"]) == 0
    assert capfd.readouterr().out == "through\n"
    assert main(["exec", "shop/nope", "--", "true"]) == 1
    assert capfd.readouterr().err == 'Error from server (NotFound): pods "nope" not found\n'
    assert main(["exec", "shop/db-0", "-c", "nope", "--", "true"]) == 1
    assert capfd.readouterr().err == "error: container nope not found in pod db-0\n"


def test_exec_workload_needs_owners(
    cluster: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    del cluster["owners"]
    rc = main(["exec", "--cluster", str(os.getpid()), "sts/db", "-n", "shop", "--", "true"])
    assert rc == 1
    assert "does not say which workload owns its pods" in capsys.readouterr().err


def test_exec_unknown_workload_is_a_clear_error(
    cluster: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["exec", "--cluster", str(os.getpid()), "deploy/nope", "--", "true"])
    assert rc == 1
    assert capsys.readouterr().err == "error: no pods of deployment/nope in namespace default\n"
