"""``podnet exec`` parsing as kubectl exec's: options before or after POD, the command
after ``--``, ``-it``, TYPE/NAME; run in-process against a real announcement socket
(podnet.live.registry) with the final execve caught."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from podnet.cli.exec import parse_target, workload_pod
from podnet.cli.main import build_parser, main, parse
from podnet.errors import ClusterError
from podnet.live.registry import Announcer


def _args(*argv: str) -> Any:
    return parse(build_parser(["exec"]), ["exec", *argv])


@pytest.mark.parametrize(
    ("argv", "pod", "namespace", "command"),
    [
        (["web"], "web", "default", []),
        (["web", "-n", "shop"], "web", "shop", []),  # -n after the pod: podnet's, not CMD's
        (["-n", "shop", "web", "--", "ls", "-la"], "web", "shop", ["ls", "-la"]),
        (["web", "-n", "shop", "--", "sh", "-c", "a -- b"], "web", "shop", ["sh", "-c", "a -- b"]),
        (
            ["web", "--", "env", "-n", "x", "--", "y"],
            "web",
            "default",
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


class _Execed(Exception):
    pass


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """This process announces itself as a cluster whose pods' sandboxes are itself; the
    execve that would become nsenter is caught."""
    me = os.getpid()
    doc: dict[str, Any] = {
        "pid": me,
        "pods": {key: me for key in PODS},
        "hostnames": {key: key.split("/")[1] for key in PODS},
        "path": "/bin",
        "owners": OWNERS,
    }
    calls: list[tuple[str, list[str], Mapping[str, str]]] = []

    def execve(path: str, argv: list[str], env: Mapping[str, str]) -> None:
        calls.append((path, argv, env))
        raise _Execed

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    announcer = Announcer(lambda: doc)
    try:
        yield {"doc": doc, "calls": calls}
    finally:
        announcer.close()


def test_exec_deploy_enters_its_first_pod(announced: dict[str, Any]) -> None:
    me = str(os.getpid())
    with pytest.raises(_Execed):
        main(["exec", "--cluster", me, "deploy/web", "-n", "shop", "--", "hostname", "-s"])
    [(path, argv, env)] = announced["calls"]
    assert path == "/usr/bin/nsenter"
    assert f"--net=/proc/{me}/ns/net" in argv
    assert argv[-3:] == ["--", "hostname", "-s"]
    assert env["HOSTNAME"] == "web-7d9-a"


def test_exec_pod_after_flags(announced: dict[str, Any]) -> None:
    with pytest.raises(_Execed):
        main(["exec", "shop/db-0", "--cluster", str(os.getpid()), "-it"])
    [(_, argv, env)] = announced["calls"]
    assert argv[-2:] == ["--", "sh"] and env["HOSTNAME"] == "db-0"


def test_exec_workload_needs_owners(
    announced: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    del announced["doc"]["owners"]
    rc = main(["exec", "--cluster", str(os.getpid()), "sts/db", "-n", "shop", "--", "true"])
    assert rc == 1
    assert "does not say which workload owns its pods" in capsys.readouterr().err
    assert announced["calls"] == []


def test_exec_unknown_workload_is_a_clear_error(
    announced: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["exec", "--cluster", str(os.getpid()), "deploy/nope", "--", "true"])
    assert rc == 1
    assert capsys.readouterr().err == "error: no pods of deployment/nope in namespace default\n"


def test_exec_c_picks_the_container(announced: dict[str, Any], tmp_path: Path) -> None:
    """Under crun the description lists each pod's containers; -c names one (kubectl's
    default is the first)."""
    containers = {}
    for name in ("main", "side"):
        bundle = tmp_path / name
        bundle.mkdir()
        process = {"args": ["x"], "env": ["PATH=/bin"], "cwd": "/"}
        (bundle / "config.json").write_text(json.dumps({"process": process}))
        containers[name] = {"id": f"id-{name}", "bundle": str(bundle)}
    announced["doc"]["oci"] = {"runtime": ["crun"], "containers": {"shop/db-0": containers}}
    me = str(os.getpid())
    for argv, cid in (([], "id-main"), (["-c", "side"], "id-side")):
        with pytest.raises(_Execed):
            main(["exec", "--cluster", me, "shop/db-0", *argv, "--", "true"])
        [(_, nsenter_argv, _)] = announced["calls"]
        assert cid in nsenter_argv
        announced["calls"].clear()


def test_exec_c_unknown_container(
    announced: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    running = {"main": {"id": "x", "bundle": "/nonexistent"}}
    announced["doc"]["oci"] = {"runtime": ["crun"], "containers": {"shop/db-0": running}}
    rc = main(["exec", "--cluster", str(os.getpid()), "-c", "nope", "shop/db-0", "--", "true"])
    assert rc == 1 and "no running container 'nope'" in capsys.readouterr().err
