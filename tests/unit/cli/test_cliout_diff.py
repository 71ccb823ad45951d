"""``podnet diff``: exit 0 no change / 1 changed / 2 bad input, -n/-l, -o json|yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.paths import REPO

from podnet.cli.main import main

SHOP = REPO / "examples/shop"
CHANGE = ["diff", "-f", str(SHOP / "base"), "-f", str(SHOP / "broken"),
          "--to", str(SHOP / "base"), str(SHOP / "fixed")]  # fmt: skip


def _doc(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, dict[str, object]]:
    rc = main([*CHANGE, "-o", "json", *flags])
    return rc, json.loads(capsys.readouterr().out)


def _ends(data: dict[str, object]) -> set[tuple[str, str]]:
    conns = data["opened"]
    assert isinstance(conns, list)
    return {(c["from"], c["to"]) for c in conns}


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CHANGE) == 1
    same = ["diff", "-f", str(SHOP / "base"), "--to", str(SHOP / "base")]
    assert main(same) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {}\n")
    assert main(["diff", "-f", str(bad), "--to", str(SHOP / "base")]) == 2
    assert main(["diff", "-f", str(SHOP / "base"), "--to", str(bad)]) == 2
    assert main(["diff", "-f", str(tmp_path / "missing"), "--to", str(SHOP / "base")]) == 2
    assert capsys.readouterr().err.count("error: ") == 3
    with pytest.raises(SystemExit) as e:  # usage: --to is required
        main(["diff", "-f", str(SHOP / "base")])
    assert e.value.code == 2


def test_namespace_and_selector(capsys: pytest.CaptureFixture[str]) -> None:
    rc, everything = _doc(capsys)
    assert rc == 1
    rc, data = _doc(capsys, "-n", "data")
    assert rc == 1 and _ends(data)
    assert all("data/" in (a[:5], b[:5]) for a, b in _ends(data))  # either end in data
    assert _ends(data) < _ends(everything)
    assert data["services_removed"] == []  # the removed Service was in shop
    rc, data = _doc(capsys, "-n", "monitoring")
    assert rc == 0 and data["changed"] is False  # nothing changed there: exit 0
    rc, data = _doc(capsys, "-l", "app=api")
    ends = _ends(data)
    assert rc == 1 and ends and all("shop/api-" in (a[:9], b[:9]) for a, b in ends)
    rc, data = _doc(capsys, "-l", "app=nothing")
    assert rc == 0


def test_json_keys_and_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    rc, as_json = _doc(capsys)
    assert main([*CHANGE, "-o", "yaml"]) == rc == 1
    assert yaml.safe_load(capsys.readouterr().out) == as_json
    assert (as_json["apiVersion"], as_json["kind"]) == ("podnet.dev/v1", "ConnectivityDiff")
    opened = as_json["opened"]
    assert isinstance(opened, list) and opened
    assert {"from", "to"} <= set(opened[0]) and not {"src", "dst"} & set(opened[0])
