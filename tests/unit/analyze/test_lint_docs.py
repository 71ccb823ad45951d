"""The rules table in docs/analyze.md is RULE_TABLE, row for row (one source)."""

from __future__ import annotations

import re

from support.paths import REPO

from podnet.analyze.lint.finding import RULE_TABLE, RULES, SEVERITIES


def test_docs_table_equals_the_rule_table() -> None:
    text = (REPO / "docs" / "analyze.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| ([a-z /]+) \| (.+) \|$", text, re.MULTILINE)
    assert rows == [(r.name, r.severity, r.meaning) for r in RULE_TABLE]
    assert [r for r, _, _ in rows] == list(RULES)


def test_every_rule_names_known_severities() -> None:
    for rule in RULE_TABLE:
        assert set(rule.severity.split(" / ")) <= set(SEVERITIES), rule
