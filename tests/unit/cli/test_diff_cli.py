"""``podnet diff`` in-process: exit 1 on changes, 0 without."""

from __future__ import annotations

import json

import pytest
from support.paths import REPO

from podnet.cli.main import main

SHOP = REPO / "examples/shop"
OLD = ["-f", str(SHOP / "base"), "-f", str(SHOP / "broken")]


def test_changes_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", *OLD, "--to", str(SHOP / "base"), str(SHOP / "fixed")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Connections: 8 opened, 0 closed")
    assert "+opened" in out and "Services removed:" in out


def test_json_and_no_change(capsys: pytest.CaptureFixture[str]) -> None:
    new = ["--to", str(SHOP / "base"), "--to", str(SHOP / "broken")]
    assert main(["diff", *OLD, *new, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
