"""``podnet lint``: -n/-l on findings, -o yaml|name, exit codes 0/1/2, rules in --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.paths import REPO

from podnet.analyze.lint.finding import RULE_TABLE
from podnet.cli.main import main

SHOP = ["-f", str(REPO / "examples/shop/base"), "-f", str(REPO / "examples/shop/broken")]
SEED = ["-f", str(REPO / "examples/seed/pitfall-pod-ip.yaml")]


def _objects(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, list[str]]:
    rc = main(["lint", *SHOP, "-o", "json", *flags])
    return rc, [f["object"] for f in json.loads(capsys.readouterr().out)["findings"]]


def test_namespace_and_selector_filter_findings(capsys: pytest.CaptureFixture[str]) -> None:
    rc, everything = _objects(capsys)
    assert rc == 1 and {o.split("/")[1] for o in everything} == {"shop"}
    rc, none = _objects(capsys, "-n", "data")
    assert rc == 0 and none == []  # data's objects are fine: the errors were elsewhere
    rc, loadgen = _objects(capsys, "-l", "app=loadgen")
    assert rc == 1 and set(loadgen) == {"Pod/shop/loadgen"}
    rc, not_loadgen = _objects(capsys, "-l", "app!=loadgen")
    assert sorted(loadgen + not_loadgen) == sorted(everything)
    rc, workload = _objects(capsys, "-n", "shop", "-l", "app=api")
    assert set(workload) == {"Deployment/shop/api"}  # a workload: its pods' labels


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", *SHOP]) == 1  # error-level findings
    assert main(["lint", *SEED]) == 0  # warnings only
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {}\n")
    assert main(["lint", "-f", str(bad)]) == 2  # bad input: not a finding
    assert main(["lint", "-f", str(tmp_path / "missing.yaml")]) == 2
    capsys.readouterr()


def test_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", *SHOP, "-o", "json"]) == 1
    as_json = json.loads(capsys.readouterr().out)
    assert main(["lint", *SHOP, "-o", "yaml"]) == 1
    assert yaml.safe_load(capsys.readouterr().out) == as_json
    assert (as_json["apiVersion"], as_json["kind"]) == ("podnet.dev/v1", "LintReport")
    assert main(["lint", *SHOP, "-o", "name"]) == 1
    names = capsys.readouterr().out.splitlines()
    assert "pod/loadgen" in names and "deployment.apps/api" in names
    assert len(names) == len(set(names)) == len({f["object"] for f in as_json["findings"]})
    assert main(["lint", "--rules", "-o", "yaml"]) == 0
    rules = yaml.safe_load(capsys.readouterr().out)
    assert rules["kind"] == "LintRuleList"
    assert [r["name"] for r in rules["rules"]] == [r.name for r in RULE_TABLE]


def test_help_lists_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["lint", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "podnet.analyze" not in out  # no Python module to go and read
    for r in RULE_TABLE:
        assert f"  {r.name} ({r.severity}): " in out
    assert "exit codes:" in out
