"""``podnet exec`` against ``podnet up`` through each of its targets: the API server's
exec subresource (``--kubeconfig``, or the current context) and up's local endpoint
(``--cluster PID``), which run the same server-side exec as ``kubectl exec``. Exit
codes as kubectl passes them, stdin, errors in kubectl's words, ``deploy/NAME``, and
``-it`` on a real pty: raw mode, the prompt, resizes (SIGWINCH) seen by ``stty size``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, UpCluster, eventually, podnet_up
from support.live import podnet_argv, podnet_env, require_live, run_cli
from test_up_attach_tty import Pty, kubectl_pty

from podnet.live.exec import endpoints

pytestmark = pytest.mark.kernel

TARGETS = ("api", "local")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up-exec-cli")) as cluster:
        k = cluster.kubectl(KUBECTL_VERSIONS[-1])
        k.ok("run", "box", "--image=busybox", "--", "sleep", "3600")
        k.ok("create", "deployment", "web", "--image=busybox", "--", "sleep", "3600")
        k.ok("wait", "--for=condition=Ready", "pod/box", "--timeout=60s", timeout=70)
        k.ok("wait", "--for=condition=Available", "deploy/web", "--timeout=60s", timeout=70)
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _where(up: UpCluster, target: str) -> list[str]:
    if target == "api":
        return ["--kubeconfig", str(up.kubeconfig)]
    return ["--cluster", str(up.proc.pid)]


@pytest.mark.parametrize("target", TARGETS)
def test_exec_exit_codes_stdin_errors_workloads(target: str, up: UpCluster) -> None:
    where = _where(up, target)
    got = run_cli("exec", *where, "box", "--", "hostname", timeout=20)
    assert (got.rc, got.out) == (0, "box\n"), got
    got = run_cli("exec", *where, "box", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (got.rc, got.out) == (3, "out\n"), got
    assert got.err == "err\ncommand terminated with exit code 3\n", got
    got = run_cli("exec", *where, "-i", "box", "--", "sh", "-c", "cat; exit 4", stdin="in\n")
    assert (got.rc, got.out) == (4, "in\n"), got
    got = run_cli("exec", *where, "nope", "--", "true")
    assert (got.rc, got.err) == (1, 'Error from server (NotFound): pods "nope" not found\n')
    got = run_cli("exec", *where, "box", "-c", "nope", "--", "true")
    assert (got.rc, got.err) == (1, "error: container nope not found in pod box\n")
    if target == "api":  # pods' owners are the API's (up's description has none)
        got = run_cli("exec", *where, "deploy/web", "--", "hostname")
        assert got.rc == 0 and got.out.startswith("web-"), got


def test_exec_current_context(up: UpCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """No flags and no ``podnet run``: the kubeconfig's current context (up's)."""
    if "run" in endpoints().values():
        pytest.skip("a podnet run is running on this machine: it would be chosen first")
    monkeypatch.setenv("KUBECONFIG", str(up.kubeconfig))
    got = run_cli("exec", "box", "--", "sh", "-c", "hostname; exit 5")
    assert (got.rc, got.out) == (5, "box\n"), got


@pytest.mark.parametrize("target", TARGETS)
def test_exec_it_on_a_terminal(target: str, up: UpCluster) -> None:
    env = {**podnet_env(), "TERM": "xterm"}
    term = Pty([*podnet_argv(), "exec", *_where(up, target), "-it", "box", "--", "sh"], env)
    try:
        term.expect("# ")
        # raw mode: the local terminal echoes nothing itself, the pod's does (once)
        term.type("echo it-$((6*7)) $(hostname)\r")
        seen = term.expect("it-42 box")
        assert seen.count("$((6*7))") == 1, seen
        assert "job control turned off" not in seen  # the pty is its controlling terminal
        term.type("stty size\r")
        term.expect("24 80")
        term.resize(33, 101)
        time.sleep(0.3)  # SIGWINCH -> a resize message -> TIOCSWINSZ in the pod
        term.type("stty size\r")
        term.expect("33 101")
        term.type("exit 6\r")
        assert term.finish() == 6
        assert "command terminated with exit code 6" in term.seen.decode(errors="replace")
    finally:
        term.close()
    # nothing left behind in the pod: the shell and its session are gone
    ps = eventually(
        lambda: (
            (r := run_cli("exec", *_where(up, target), "box", "--", "ps", "-o", "args"))
            and "sh" not in r.out.split()
            and r
        ),
        what="the exec's shell gone",
    )
    assert ps.rc == 0
    assert os.path.exists("/proc/self")  # (the eventually above returned a Result)


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_exec_it_job_control_and_nothing_left_when_killed(
    version: str, up: UpCluster
) -> None:
    """``kubectl exec -it``: crun makes the terminal in the container (a session of its
    own there, so the shell has job control); a SIGKILLed kubectl leaves nothing."""
    mark = f"{len(version)}{version.replace('.', '')}7"  # a sleep to find afterwards
    term = kubectl_pty(up, version, "exec", "-it", "box", "--", "sh")
    try:
        term.expect("# ")
        term.type("tty; sleep 1 & jobs\r")
        term.expect("/dev/pts/")
        seen = term.expect("Running")  # jobs: "[1]+  Running  sleep 1"
        assert "/dev/pts/" in seen and "job control turned off" not in seen, seen
        term.type(f"sleep {mark}\r")
        k = up.kubectl(KUBECTL_VERSIONS[-1])
        eventually(lambda: mark in k.ok("exec", "box", "--", "ps", "-o", "args"), what="sleep")
        term.proc.kill()
        term.proc.wait()
    finally:
        term.close()
    k = up.kubectl(KUBECTL_VERSIONS[-1])
    eventually(
        lambda: mark not in k.ok("exec", "box", "--", "ps", "-o", "args"),
        what="the exec's processes gone with its client",
    )
