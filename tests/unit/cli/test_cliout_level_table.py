"""``podnet analyze --level workload`` as a table (default and ``-o wide``): rows and
columns are the workload-level JSON's workloads, each cell that JSON's verdict (all,
some or none of the pod pairs allowed); the pod level keeps its pod grid."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO

from podnet.analyze.matrix_format import ALLOW, DENY, SELF, SOME
from podnet.cli.main import main

SHOP = ["-f", str(REPO / "examples/shop/base")]

# db-0 of a two-pod StatefulSet shut (its pod-name label, set by the StatefulSet
# controller), db-1 open: every other workload reaches db on 5432 for some pod pairs only.
PARTIAL = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: shut-db-0, namespace: default}
spec:
  podSelector: {matchLabels: {statefulset.kubernetes.io/pod-name: db-0}}
  policyTypes: [Ingress]
"""


def _run(capsys: pytest.CaptureFixture[str], files: list[str], *argv: str) -> str:
    assert main(["analyze", *files, *argv]) == 0
    return capsys.readouterr().out


def _grids(text: str) -> dict[str, dict[tuple[str, str], str]]:
    """``port/PROTO`` -> (from, to) -> mark, read back from the grids of a table."""
    out: dict[str, dict[tuple[str, str], str]] = {}
    for block in text.split("\n\n"):
        lines = block.splitlines()
        m = re.fullmatch(r"(\d+/[A-Z]+)  \(rows: from, columns: to \[n\]\)", lines[0])
        if not m:
            continue
        rows = []
        for line in lines[2:]:
            label, marks = re.fullmatch(r"(\S+)(?: \[\d+\])?\s+((?:\s\s\S)+)", line).groups()  # type: ignore[union-attr]
            rows.append((label, marks.split(), re.search(r"\[(\d+)\]$", line.split("  ")[0])))
        numbered = {int(n.group(1)): label for label, _, n in rows if n}
        grid = out[m.group(1)] = {}
        for label, marks, _ in rows:
            for i, mark in enumerate(marks):
                grid[(label, numbered[i + 1])] = mark
    return out


def _want(data: dict[str, Any]) -> dict[str, dict[tuple[str, str], str]]:
    want: dict[str, dict[tuple[str, str], str]] = {}
    for c in data["connections"]:
        ok, n = c["allowed_pairs"], c["pairs"]
        mark = ALLOW if ok == n else SOME if ok else DENY
        assert c["allowed"] == (mark == ALLOW)
        want.setdefault(f"{c['port']}/{c['protocol']}", {})[(c["from"], c["to"])] = mark
    return want


def _check(capsys: pytest.CaptureFixture[str], files: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_run(capsys, files, "-o", "json", "--level", "workload"))
    keys = [w["key"] for w in data["workloads"]]
    want = _want(data)
    for fmt in ("table", "wide"):
        text = _run(capsys, files, "-o", fmt, "--level", "workload")
        grids = _grids(text)
        assert set(grids) == set(want)
        for port, grid in grids.items():
            assert sorted({f for f, _ in grid}) == sorted(keys)  # every workload a row
            for pair, mark in grid.items():
                # a cell the JSON has no connection for is a one-pod workload to itself
                assert mark == want[port].get(pair, SELF), (port, pair)
                if mark == SELF:
                    assert pair[0] == pair[1]
            assert {p for p in want[port]} <= set(grid)
        assert "some pod pairs" in text  # the legend
    return data


def test_shop_workload_table_matches_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _check(capsys, SHOP)
    pod_table = _run(capsys, SHOP)
    assert "cache-5f7fb4795" in pod_table and "[Deployment]" not in pod_table
    wl = _run(capsys, SHOP, "--level", "workload")
    assert "[Deployment]" in wl and "cache-5f7fb4795" not in wl
    assert "5 workloads" in wl.splitlines()[0]
    wide = _run(capsys, SHOP, "-o", "wide", "--level", "workload").splitlines()
    assert wide[0].split() == ["NAMESPACE", "NAME", "KIND", "PODS", "NODES"]
    rows = {(r.split()[0], r.split()[1], r.split()[2]): int(r.split()[3]) for r in wide[1:6]}
    assert rows == {
        (w["namespace"], w["name"], w["kind"]): len(w["pods"]) for w in data["workloads"]
    }


def test_some_pod_pairs_marked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "partial.yaml").write_text(PARTIAL)
    files = ["-f", str(tmp_path / "partial.yaml")]
    data = _check(capsys, files)
    db = {(c["from"], c["to"]): c for c in data["connections"] if c["port"] == 5432}
    web_db = db[("default/web[Deployment]", "default/db[StatefulSet]")]
    assert (web_db["allowed_pairs"], web_db["pairs"]) == (2, 4)  # to db-1 only
    grid = _grids(_run(capsys, files, "--level", "workload"))["5432/TCP"]
    assert grid[("default/web[Deployment]", "default/db[StatefulSet]")] == SOME
    assert grid[("default/client", "default/db[StatefulSet]")] == SOME
    assert grid[("default/db[StatefulSet]", "default/db[StatefulSet]")] == SOME  # db-0 -> db-1
    assert _grids(_run(capsys, files))["5432/TCP"][("default/client", "default/db-0")] == DENY


def test_many_workloads_get_a_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Past a grid's size, one line per destination workload: "all N", or the sources
    with ``~`` and their pair counts where only some pod pairs get in."""
    bare = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i:02}, namespace: default}}\n"
        "spec: {containers: [{name: c, image: busybox}]}\n"
        for i in range(25)
    )
    (tmp_path / "many.yaml").write_text(PARTIAL + bare)
    text = _run(capsys, ["-f", str(tmp_path / "many.yaml")], "--level", "workload")
    assert "rows: from" not in text
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln.startswith("default/")}
    assert lines["default/web[Deployment]"].split()[1:] == ["all", "28"]
    db = lines["default/db[StatefulSet]"]
    assert "28 of 28: ~default/client (1/2)" in db, db
