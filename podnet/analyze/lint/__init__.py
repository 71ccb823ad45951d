"""``podnet lint``: findings about a cluster's manifests (dangling selectors, unused objects).

One rule family per module (policies, services, usage) over a shared :class:`LintContext`.
"""

from podnet.analyze.lint.context import LintContext
from podnet.analyze.lint.finding import RULES, Finding, has_errors
from podnet.analyze.lint.render import format_text, to_json
from podnet.analyze.lint.run import lint, lint_context

__all__ = [
    "RULES",
    "Finding",
    "LintContext",
    "format_text",
    "has_errors",
    "lint",
    "lint_context",
    "to_json",
]
