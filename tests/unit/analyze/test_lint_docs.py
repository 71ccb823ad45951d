"""Every lint rule is documented in docs/analyze.md, and nothing else is."""

from __future__ import annotations

import re

from support.paths import REPO

from podnet.analyze.lint.finding import RULES, SEVERITIES


def test_docs_list_every_lint_rule_with_its_severities() -> None:
    text = (REPO / "docs" / "analyze.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| ([a-z /]+) \|", text, re.MULTILINE)
    assert [rule for rule, _ in rows] == list(RULES)
    for _, severities in rows:
        assert set(severities.split(" / ")) <= set(SEVERITIES)
