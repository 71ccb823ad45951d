"""``podnet report`` in-process: writes one HTML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.paths import REPO

from podnet.cli.main import main

ROOT = REPO


def test_writes_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    rc = main(["report", "-f", str(ROOT / "examples/seed/pod-to-service.yaml"), "-o", str(out)])
    assert rc == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "default/my-service" in html
    assert "wrote" in capsys.readouterr().err


def test_unwritable_output_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "r.html"
    rc = main(["report", "-f", str(ROOT / "examples/seed/pod-to-service.yaml"), "-o", str(target)])
    assert rc == 1 and capsys.readouterr().err.startswith("error: cannot write")
