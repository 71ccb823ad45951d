"""``podnet probe`` end to end, in-process (the sandbox may be entered again after close).

Covers what the conformance tables do not: SCTP on a kernel without it, a Service
leading to a port nobody listens on (a real disagreement: exit 1), pairs without a
Service, both transports giving the same matrix, and teardown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.sandbox import kernel_skip_reason

from podnet.cli.main import main
from podnet.errors import Location
from podnet.live.probe.ready import sctp_available
from podnet.live.probe.runner import probe_cluster
from podnet.manifests import from_documents

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"

pytestmark = pytest.mark.kernel


@pytest.fixture(autouse=True)
def _kernel() -> None:
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)


def _pod(name: str, ns: str = "x", *, port: int = 80, proto: str = "TCP") -> dict[str, Any]:
    if proto == "SCTP":
        cont: dict[str, Any] = {
            "args": ["porter"],
            "env": [{"name": f"SERVE_SCTP_PORT_{port}", "value": "foo"}],
        }
    else:
        cont = {
            "args": ["serve-hostname", f"--{proto.lower()}", "--http=false", "--port", str(port)]
        }
    cont.update(
        name="c", image=AGNHOST, ports=[{"containerPort": port, "protocol": proto, "name": "serve"}]
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"pod": name}},
        "spec": {"containers": [cont]},
    }


def _svc(name: str, pod: str, target: int, ns: str = "x") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"pod": pod}, "ports": [{"port": 1000, "targetPort": target}]},
    }


DENY_B = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "only-a-to-b", "namespace": "x"},
    "spec": {
        "podSelector": {"matchLabels": {"pod": "b"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "a"}}}]}],
    },
}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}


def _write(tmp: Path, docs: list[dict[str, Any]]) -> str:
    path = tmp / "m.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def _children() -> set[int]:
    """Live (non-zombie) child processes of this process."""
    out = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[1]) == os.getpid():
            out.add(int(pid))
    return out


def test_agreement_exits_0_and_prints_both_grids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _write(tmp_path, [NS, _pod("a"), _pod("b"), _pod("c"), DENY_B])
    before = _children()
    assert main(["probe", "-f", f, "--deny", "reject"]) == 0
    assert _children() <= before  # the cluster is gone: no process of it is left
    out, err = capsys.readouterr()
    assert "observed" in out and "predicted" in out and "0 disagree" in out
    assert "cluster up" in err and "6 probes" in err


def test_json_via_service_reports_pairs_without_a_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [NS, _pod("a"), _pod("b"), _pod("c"), _svc("to-b", "b", 80), DENY_B]
    f = _write(tmp_path, docs)
    assert main(["probe", "-f", f, "-o", "json", "--via", "service", "--deny", "reject"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {(c["from"], c["to"]): c for c in data["connections"]}
    assert by[("x/a", "x/b")]["result"] == "allowed" and by[("x/a", "x/b")]["service"] == "x/to-b"
    assert by[("x/c", "x/b")]["result"] == "denied" and by[("x/c", "x/b")]["predicted"] is False
    assert by[("x/a", "x/c")]["result"] == "no service" and by[("x/a", "x/c")]["allowed"] is False
    assert data["summary"] == {
        "probes": 6,
        "allowed": 1,
        "denied": 1,
        "unsupported": 0,
        "no service": 4,
        "disagreements": 0,
    }


def test_a_port_nobody_listens_on_is_a_disagreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Service makes 8080 a served port of b (the engine allows it); nothing binds it."""
    f = _write(tmp_path, [NS, _pod("a"), _pod("b"), _svc("wrong", "b", 8080)])
    code = main(["probe", "-f", f, "--deny", "reject", "--ready-timeout", "1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "x/a -> x/b 8080/TCP: predicted allowed, observed denied" in out
    assert "not ready, probed anyway: x/b 8080/TCP" in err


@pytest.mark.skipif(sctp_available(), reason="the kernel has SCTP")
def test_sctp_without_kernel_support_is_unsupported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _write(tmp_path, [NS, _pod("a"), _pod("s", port=90, proto="SCTP")])
    assert main(["probe", "-f", f, "-o", "json", "--deny", "reject"]) == 0
    data = json.loads(capsys.readouterr().out)
    sctp = [c for c in data["connections"] if c["protocol"] == "SCTP"]
    assert sctp and all(c["result"] == "unsupported" for c in sctp)
    assert data["summary"]["disagreements"] == 0


def test_process_and_thread_transports_see_the_same_network() -> None:
    docs = [NS, _pod("a"), _pod("b"), _pod("c"), _pod("u", port=53, proto="UDP"), DENY_B]
    documents = [(d, Location("t", 1)) for d in docs]
    manifests = from_documents(documents)
    got = {}
    for transport in ("thread", "process"):
        report = probe_cluster(
            manifests,
            documents=documents,
            nodes=2,
            deny="reject",
            transport=transport,
            choose=lambda s: [p for p in s.pods if p.namespace == "x"],
        )
        got[transport] = [(o.planned.src, o.planned.dst, o.result) for o in report.observations]
        assert not [o for o in report.observations if o.disagrees]
    assert got["thread"] == got["process"]
    assert ("x/a", "x/u", "allowed") in got["thread"] and ("x/c", "x/b", "denied") in got["thread"]


def test_bad_input_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, [NS, _pod("a")])
    assert main(["probe", "-f", f, "--nodes", "0"]) == 1
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_tears_down_and_exits_128_plus_n(tmp_path: Path, signum: int, code: int) -> None:
    """128+N as a shell reports a process killed by signal N, and as podnet run exits."""
    f = _write(tmp_path, [NS, _pod("a"), _pod("b"), DENY_B])
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet", "probe", "-f", f, "--ready-timeout", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    with proc:  # closes the stderr pipe however the test ends
        try:
            assert "cluster up" in proc.stderr.readline()
            proc.send_signal(signum)
            assert proc.wait(timeout=30) == code
            if signum == signal.SIGTERM:
                assert "SIGTERM received; torn down" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
