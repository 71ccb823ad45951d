"""``podnet lint`` in-process: output forms and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.cli.main import main

ROOT = REPO
SHOP = ROOT / "examples/shop"
SEED = ["-f", str(ROOT / "examples/seed/pod-to-service.yaml"),
        "-f", str(ROOT / "examples/seed/pitfall-pod-ip.yaml")]  # fmt: skip


def test_errors_exit_1_with_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["lint", "-f", str(SHOP / "base"), "-f", str(SHOP / "broken")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "ERROR    unknown-service-name  Pod/shop/loadgen" in out
    assert "\033[" not in out  # no colour when not a terminal
    assert all(len(line) <= 80 for line in out.splitlines())


def test_warnings_only_exit_0_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["lint", *SEED, "-o", "json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    [f] = data["findings"]
    assert (f["rule"], f["severity"], f["object"]) == (
        "pod-ip-literal",
        "warning",
        "Pod/default/pod-client",
    )


def test_bad_input_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {}\n")
    rc = main(["lint", "-f", str(tmp_path / "bad.yaml")])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error:") and "Traceback" not in err
