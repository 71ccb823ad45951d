"""``podnet analyze -o FORMAT --level pod|workload``: every format parsed back and checked
against the JSON document's verdicts (csv/md/dot list the allowed flows only)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections import defaultdict
from typing import Any

import pytest
import yaml
from support.paths import REPO

from podnet.cli.main import main

SHOP = ["-f", str(REPO / "examples/shop/base")]


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["analyze", *SHOP, *argv]) == 0
    return capsys.readouterr().out


def _doc(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_out(capsys, "-o", "json", *argv))
    assert (data["apiVersion"], data["kind"]) == ("podnet.dev/v1", "ConnectivityMatrix")
    return data


def _allowed(data: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(from, to) -> {"TCP 80", ...}: the ports with at least one pod pair allowed."""
    got: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in data["connections"]:
        if c["allowed"] or c.get("allowed_pairs", 0):
            got[(c["from"], c["to"])].add(f"{c['protocol']} {c['port']}")
    return dict(got)


def _rows_as_flows(rows: list[list[str]]) -> dict[tuple[str, str], set[str]]:
    return {(r[0], r[1]): {p.split(" (")[0] for p in r[2].split(",")} for r in rows}


@pytest.mark.parametrize("level", ["pod", "workload"])
def test_json_yaml_csv_md_agree(capsys: pytest.CaptureFixture[str], level: str) -> None:
    data = _doc(capsys, "--level", level)
    assert data["level"] == level
    assert yaml.safe_load(_out(capsys, "-o", "yaml", "--level", level)) == data
    want = _allowed(data)
    assert want
    rows = list(csv.reader(io.StringIO(_out(capsys, "-o", "csv", "--level", level))))
    assert rows[0] == ["from", "to", "connection"]
    assert _rows_as_flows(rows[1:]) == want
    md = _out(capsys, "-o", "md", "--level", level).splitlines()
    assert md[0] == "| from | to | connection |"
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in md[2:]]
    assert _rows_as_flows(cells) == want


def test_workload_level_groups_pods(capsys: pytest.CaptureFixture[str]) -> None:
    pods = _doc(capsys)
    data = _doc(capsys, "--level", "workload")
    keys = {w["key"]: w for w in data["workloads"]}
    assert set(keys) == {"data/cache[Deployment]", "data/db[StatefulSet]", "monitoring/prober",
                         "shop/api[Deployment]", "shop/frontend[Deployment]"}  # fmt: skip
    assert len(keys["shop/api[Deployment]"]["pods"]) == 2
    assert sum(len(w["pods"]) for w in data["workloads"]) == len(pods["pods"])
    # each workload connection counts its pod pairs; the pairs add up to the pod level's
    assert sum(c["pairs"] for c in data["connections"]) == len(pods["connections"])
    assert sum(c["allowed_pairs"] for c in data["connections"]) == sum(
        c["allowed"] for c in pods["connections"]
    )


def test_name_and_wide(capsys: pytest.CaptureFixture[str]) -> None:
    names = _out(capsys, "-o", "name").split()
    assert len(names) == 7 and all(n.startswith("pod/") for n in names)
    assert _out(capsys, "-o", "name", "--level", "workload").split() == [
        "deployment.apps/cache",
        "statefulset.apps/db",
        "pod/prober",
        "deployment.apps/api",
        "deployment.apps/frontend",
    ]
    wide = _out(capsys, "-o", "wide")
    assert wide.splitlines()[0].split() == ["NAMESPACE", "NAME", "IP", "NODE", "WORKLOAD"]
    assert "StatefulSet/db" in wide and wide.endswith(_out(capsys))  # then the table


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
@pytest.mark.parametrize("level", ["pod", "workload"])
def test_dot_renders(capsys: pytest.CaptureFixture[str], level: str) -> None:
    text = _out(capsys, "-o", "dot", "--level", level)
    assert text.startswith("digraph")
    svg = subprocess.run(
        ["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "<svg" in svg
    for ns in ("shop", "data", "monitoring"):
        assert f">{ns}<" in svg  # the namespaces are drawn


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["analyze", *SHOP, "-o", "html"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
