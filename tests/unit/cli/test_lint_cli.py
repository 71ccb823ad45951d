"""``podnet lint`` in-process: output forms and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.analyze.lint.finding import RULE_TABLE, RULES
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
    assert rc == 2 and err.startswith("error:") and "Traceback" not in err  # not a finding


def test_rules_lists_every_rule_with_severity_and_meaning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lint", "--rules"]) == 0
    out = capsys.readouterr().out
    for rule in RULE_TABLE:
        assert f"{rule.name}  ({rule.severity})" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert main(["lint", "--rules", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in data["rules"]] == list(RULES)


def test_disable_repeatable_and_comma_lists(capsys: pytest.CaptureFixture[str]) -> None:
    files = ["-f", str(SHOP / "base"), "-f", str(SHOP / "broken")]
    off = ["unknown-service-name,service-port-unreachable", "--disable", "target-port-unmatched"]
    rc = main(["lint", *files, "-o", "json", "--disable", *off])
    rules = {f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert rc == 1  # policy-blocks-service-use and dns-egress-blocked remain errors
    assert rules.isdisjoint(
        {"unknown-service-name", "service-port-unreachable", "target-port-unmatched"}
    )
    assert "pod-not-isolated" in rules


def test_unknown_rule_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lint", *SEED, "--disable", "pod-ip-litteral"])
    assert exc.value.code == 2
    assert "unknown rule(s) pod-ip-litteral" in capsys.readouterr().err


def test_findings_carry_file_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["lint", *SEED, "-o", "json"])
    [f] = json.loads(capsys.readouterr().out)["findings"]
    file, line = f["location"].rsplit(":", 1)
    assert rc == 0 and file.endswith("pitfall-pod-ip.yaml") and int(line) > 1
    main(["lint", *SEED])
    assert f"at: {f['location']}" in capsys.readouterr().out


def test_files_are_required_without_rules() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lint"])
    assert exc.value.code == 2
