"""``podnet lint -f PATH... [-o table|json] [--nodes N] [--disable RULE]...``, ``lint --rules``.

Prints every finding with the file:line of its field (see :mod:`podnet.analyze.lint.run`
for the rules and severities; ``--rules`` lists them). ``--disable`` turns rules off
(repeatable, or comma-separated). Exit codes: 0 when no finding is an error (warnings
and info do not fail), 1 when at least one error-level finding exists or the manifests
cannot be loaded, 2 for a usage error (an unknown rule name among them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podnet.analyze.lint.context import context_for_state
from podnet.analyze.lint.finding import RULE_TABLE, has_errors
from podnet.analyze.lint.render import format_rules, format_text, to_json
from podnet.analyze.lint.run import lint_context, unknown_rules
from podnet.cli.common import (
    add_cluster_args,
    add_file_args,
    add_nodes_arg,
    add_output_arg,
    load_state,
    print_data,
    use_colour,
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "lint",
        help="find mistakes in pod networking (names, ports, policies)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    add_output_arg(p, ("table", "json"), "table")
    add_nodes_arg(p)
    add_cluster_args(p)
    p.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off (repeatable; RULE,RULE also works); see --rules",
    )
    p.add_argument("--rules", action="store_true", help="list the rules and exit")
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    if args.rules:
        if args.output == "json":
            print_data({"rules": [vars(r) for r in RULE_TABLE]}, "json")
        else:
            print(format_rules(RULE_TABLE))
        return 0
    disable = {name.strip() for arg in args.disable for name in arg.split(",") if name.strip()}
    unknown = unknown_rules(disable)
    if unknown:
        parser.error(f"--disable: unknown rule(s) {', '.join(unknown)} (see podnet lint --rules)")
    _, state = load_state(args, parser)  # warns about what it skips
    findings = lint_context(context_for_state(state), disable)
    if args.output == "json":
        print_data(to_json(findings), "json")
    else:
        print(format_text(findings, colour=use_colour(sys.stdout)))
    return 1 if has_errors(findings) else 0
