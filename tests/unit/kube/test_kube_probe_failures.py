"""Every failure of ``podnet probe --cluster --cases`` still prints its report (issue 13:
a CI run once ended with an empty stdout and a message nobody kept). Over a recorded
API (support.probe_api): pods that never run stop the run, the cases not reached are
reported with the reason, the namespaces made are deleted, exit 1; podnet's own bug is
said with its traceback on stderr and is in the report too."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from support.probe_api import ProbeApi, probe_api  # noqa: F401 (fixture)

from podnet.cli.main import main
from podnet.live.probe.cluster_cases import Conformance

CASES = Path(__file__).parents[2] / "conformance" / "cases"
# two set-ups (their ports differ): the second is not reached when the first fails
FIRST, SECOND = CASES / "903-endport-range.yaml", CASES / "904-named-port-protocol.yaml"


def _kubeconfig(api: ProbeApi, tmp: Path) -> str:
    path = tmp / "kubeconfig"
    path.write_text(
        f"clusters: [{{name: c, cluster: {{server: '{api.url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    return str(path)


def _probe(api: ProbeApi, tmp: Path, *args: str) -> tuple[int, str, str]:
    for ns in "xyz":  # the pods are created (201) but never listed: they never run
        api.gets[f"/api/v1/namespaces/{ns}/pods"] = {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {},
            "items": [],
        }
    out, err = io.StringIO(), io.StringIO()
    argv = ["probe", "--cluster", "--kubeconfig", _kubeconfig(api, tmp)]
    argv += ["--cases", str(FIRST), "--cases", str(SECOND), *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _deleted_namespaces(api: ProbeApi) -> list[str]:
    return sorted(p.rsplit("/", 1)[1] for p, _ in api.methods("DELETE") if "/namespaces/" in p)


def test_pods_that_never_run_stop_the_run_with_a_report(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    rc, out, err = _probe(probe_api, tmp_path, "--ready-timeout", "0.3s", "-o", "json")
    assert rc == 1, err
    data: dict[str, Any] = json.loads(out)
    first, second = data["cases"]
    assert first["error"].startswith("set-up failed: pods not running and ready after 0.3 s: ")
    assert "x/a (not created)" in first["error"]
    assert second["error"] == "run stopped: " + first["error"].removeprefix("set-up failed: ")
    assert data["summary"] == {"cases": 2, "failed": 2}
    assert "error, stopping the run: pods not running and ready" in err
    assert _deleted_namespaces(probe_api) == ["x", "y", "z"]
    assert not probe_api.execs


def test_the_table_output_says_why_too(probe_api: ProbeApi, tmp_path: Path) -> None:  # noqa: F811
    rc, out, _ = _probe(probe_api, tmp_path, "--ready-timeout", "0.3s")
    assert rc == 1
    assert "not run: set-up failed: pods not running and ready after 0.3 s" in out
    assert out.rstrip().endswith(
        "0/2 case(s) agree with podnet's prediction; "
        "not: 903-endport-range, 904-named-port-protocol"
    )


def test_podnets_own_error_is_reported_with_its_traceback(
    probe_api: ProbeApi,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wait_fails(self: Conformance, case: Any) -> None:
        raise ZeroDivisionError("a bug")  # after the creates: cleanup must take them

    monkeypatch.setattr(Conformance, "_wait_running", wait_fails)
    rc, out, err = _probe(probe_api, tmp_path, "--ready-timeout", "0", "-o", "json")
    assert rc == 1
    errors = [c["error"] for c in json.loads(out)["cases"]]
    assert errors == [
        "set-up failed: internal error: ZeroDivisionError: a bug",
        "run stopped: internal error: ZeroDivisionError: a bug",
    ]
    assert "Traceback (most recent call last):" in err and "wait_fails" in err
    assert _deleted_namespaces(probe_api) == ["x", "y", "z"]
