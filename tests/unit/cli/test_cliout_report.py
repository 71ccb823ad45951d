"""``podnet report``: --output FILE or stdout, -o refused (a format, never a file), -n/-l."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.cli.main import main

SHOP = ["-f", str(REPO / "examples/shop/base")]


def _counts(html: str) -> tuple[int, int]:
    m = re.search(r'"counts":\{"connections":(\d+),"allowed":(\d+)\}', html)
    assert m, "the page's data carries the matrix counts"
    return int(m.group(1)), int(m.group(2))


def test_output_file_or_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "r.html"
    assert main(["report", *SHOP, "--output", str(page)]) == 0
    assert "wrote" in capsys.readouterr().err
    assert main(["report", *SHOP]) == 0  # no --output: stdout
    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>")
    assert out == page.read_text()
    assert main(["report", *SHOP, "--output", "-"]) == 0
    assert capsys.readouterr().out == out


def test_dash_o_is_not_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["report", *SHOP, "-o", str(tmp_path / "r.html")])
    assert e.value.code == 2
    assert "--output" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_filters_choose_the_pods(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", *SHOP]) == 0
    everything = _counts(capsys.readouterr().out)
    assert main(["report", *SHOP, "-n", "data"]) == 0
    # data's two pods, one served port each, both closed by data/default-deny
    assert _counts(capsys.readouterr().out) == (2, 0)
    assert main(["report", *SHOP, "-n", "data", "-A"]) == 0
    assert _counts(capsys.readouterr().out) == everything
    assert main(["report", *SHOP, "-l", "app in (api,db)"]) == 0
    total, allowed = _counts(capsys.readouterr().out)
    assert 0 < total < everything[0] and allowed <= total
