"""Writes one self-contained HTML page (inline CSS, script and SVG; opens offline): the
cluster drawn, the connectivity matrix per port with explanations, Services,
NetworkPolicies and lint findings. --output FILE writes it to FILE, else (or with
--output -) to stdout; -o is an output format in podnet as in kubectl, never a file.

-n NAMESPACE, -A and -l SELECTOR choose the pods the page shows (the policies of every
namespace still apply) and the lint findings listed, as analyze and lint do. The pods are
analyze's: the cluster DNS pod podnet adds only with --all.
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
from podnet.cli.filters import add_filter_flags, selection
from podnet.cli.lint import select_findings
from podnet.control.cluster import user_pods
from podnet.errors import PodnetError

EPILOG = """examples:
  podnet report -f shop/ --output shop.html
  podnet report -f shop/ -n shop > shop.html

exit codes: 0 written (lint findings do not fail the report), 1 bad input or a file
that cannot be written, 2 usage errors."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write a self-contained HTML report of the cluster network",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    add_filter_flags(p)
    p.add_argument(
        "--output",
        dest="output_file",
        default="-",
        metavar="FILE",
        help="HTML file to write (default, or -: stdout)",
    )
    # -o FILE was this verb's flag once; say what to use instead of "unrecognized"
    p.add_argument("-o", dest="o_flag", default=None, help=argparse.SUPPRESS)
    p.add_argument("--title", default=None, help="page title (default: the input paths)")
    add_nodes_arg(p)
    add_cluster_args(p, namespaces=False)
    p.add_argument("--all", action="store_true", help="include the pods podnet adds (cluster DNS)")
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    if args.o_flag is not None:
        args.parser.error(
            f"-o is an output format, never a file (kubectl's meaning): "
            f"write the page with --output {args.o_flag}"
        )
    manifests, state = load_state(args, args.parser)
    if args.all:  # the pods `podnet analyze` shows (its --all, its --from-cluster)
        pods = list(state.pods)
    elif args.from_cluster:
        pods = [p for p in state.pods if p.namespace != "kube-system"]
    else:
        pods = user_pods(manifests, state)
    sel = selection(args)
    findings = select_findings(lint_context(context_for_state(state)), state, sel)
    source = " ".join(args.files or []) or f"cluster {args.context or '(current context)'}"
    title = args.title or "podnet report: " + source
    html = render_report(state, findings, title, pods=sel.pods(pods))
    if args.output_file == "-":
        sys.stdout.write(html)
        return 0
    try:
        Path(args.output_file).write_text(html, encoding="utf-8")
    except OSError as e:
        raise PodnetError(f"cannot write {args.output_file}: {e.strerror}") from e
    print(f"wrote {args.output_file} ({len(html) // 1024} KiB)", file=sys.stderr)
    return 0
