"""``podnet run``'s new flags, in-process through ``main``: pod names are checked against
the manifests before anything is built (the sandbox would fail the test if entered),
and ``--timeout`` takes durations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import podnet.live.run
from podnet.cli.main import main
from podnet.dataplane.sandbox.namespaces import Sandbox

SEED = Path(__file__).resolve().parents[3] / "examples" / "seed" / "pod-to-service.yaml"


@pytest.fixture(autouse=True)
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(cls: type[Sandbox]) -> Sandbox:
        raise AssertionError("the sandbox must not be entered for bad input")

    monkeypatch.setattr(Sandbox, "enter", classmethod(refuse))


@pytest.mark.parametrize(
    ("flag", "name", "message"),
    [
        ("--shell", "nope", "--shell nope: no pod default/nope in the manifests"),
        ("--shell", "kube-system/x", "--shell kube-system/x: no pod kube-system/x"),
        ("--follow", "other/pod-a", "--follow other/pod-a: no pod other/pod-a"),
    ],
)
def test_an_unknown_pod_is_a_usage_error_before_the_cluster(
    capsys: pytest.CaptureFixture[str], flag: str, name: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "-f", str(SEED), flag, name])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err
    assert "(pods: default/pod-a, default/pod-b)" in err
    assert "cluster up" not in err


def test_an_unknown_log_mode_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "-f", str(SEED), "--logs", "servers"])
    assert exc.value.code == 2
    assert "invalid choice: 'servers'" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "seconds"), [("30s", 30.0), ("2m", 120.0), ("1.5", 1.5)])
def test_timeout_durations_and_flags_reach_run(
    monkeypatch: pytest.MonkeyPatch, given: str, seconds: float
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(manifests: object, **kw: Any) -> int:
        seen.update(kw)
        return 0

    monkeypatch.setattr(podnet.live.run, "run", fake_run)
    argv = ["run", "-f", str(SEED), "--timeout", given, "--logs", "all", "--follow", "pod-b"]
    assert main(argv) == 0
    assert seen["timeout"] == seconds
    assert seen["logs"] == "all"
    assert seen["follow"] == ["default/pod-b"]
    assert seen["colour"] is False  # captured stdout is no terminal
    assert seen["summary"] is True
    assert seen["quiet"] is False
    main(["-q", "run", "-f", str(SEED)])
    assert (seen["summary"], seen["quiet"], seen["bar"]) == (False, True, False)


def test_a_bad_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "-f", str(SEED), "--timeout", "soon"])
    assert exc.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err
