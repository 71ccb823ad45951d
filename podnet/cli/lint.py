"""``podnet lint -f PATH... [-o table|json] [--nodes N]``.

Prints every finding (see :mod:`podnet.analyze.lint.run` for the rules and severities).
Exit codes: 0 when no finding is an error (warnings and info do not fail), 1 when at
least one error-level finding exists or the manifests cannot be loaded.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podnet.analyze.lint.finding import has_errors
from podnet.analyze.lint.render import format_text, to_json
from podnet.analyze.lint.run import lint
from podnet.cli.common import add_file_args, add_nodes_arg, add_output_arg, print_data, use_colour
from podnet.manifests import load_paths


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "lint",
        help="find mistakes in pod networking (names, ports, policies)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p)
    add_output_arg(p, ("table", "json"), "table")
    add_nodes_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    findings = lint(load_paths(args.files), nodes=args.nodes)
    if args.output == "json":
        print_data(to_json(findings), "json")
    else:
        print(format_text(findings, colour=use_colour(sys.stdout)))
    return 1 if has_errors(findings) else 0
