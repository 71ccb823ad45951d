"""``podnet report -f PATH... -o report.html [--nodes N] [--title TEXT]``.

Writes one self-contained HTML file (inline CSS, script and SVG; opens offline): the
cluster drawn, the connectivity matrix per port with explanations, Services,
NetworkPolicies and lint findings. ``-o -`` writes to stdout. Exit code 0 when
written (lint findings do not fail the report), 1 on error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from podnet.analyze.lint.context import context_for_state
from podnet.analyze.lint.run import lint_context
from podnet.analyze.report.page import render_report
from podnet.cli.common import add_cluster_args, add_file_args, add_nodes_arg, load_state
from podnet.errors import PodnetError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write a self-contained HTML report of the cluster network",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="HTML file to write")
    p.add_argument("--title", default=None, help="page title (default: the input paths)")
    add_nodes_arg(p)
    add_cluster_args(p)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    _, state = load_state(args, args.parser)
    findings = lint_context(context_for_state(state))
    source = " ".join(args.files or []) or f"cluster {args.context or '(current context)'}"
    title = args.title or "podnet report: " + source
    html = render_report(state, findings, title)
    if args.output == "-":
        sys.stdout.write(html)
        return 0
    try:
        Path(args.output).write_text(html, encoding="utf-8")
    except OSError as e:
        raise PodnetError(f"cannot write {args.output}: {e.strerror}") from e
    print(f"wrote {args.output} ({len(html) // 1024} KiB)", file=sys.stderr)
    return 0
