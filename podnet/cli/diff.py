"""``podnet diff -f OLD... --to NEW... [-o text|wide|json] [--nodes N]``.

Lists the connections (pod pair and port) the change from OLD to NEW manifests opens
or closes, the Services whose endpoints change, and pods and Services added or removed.
Pods are matched by namespace/name. Exit codes, like diff(1): 0 no change, 1 changes
(or an error loading either side).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podnet.analyze.diff import compute_diff
from podnet.analyze.diff_format import format_text, to_dict
from podnet.cli.common import (
    add_file_args,
    add_nodes_arg,
    add_output_arg,
    build,
    load,
    print_data,
    use_colour,
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="connections and endpoints a change of manifests opens or closes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p)
    p.add_argument(
        "--to",
        dest="new_files",
        action="extend",
        nargs="+",
        required=True,
        metavar="PATH",
        help="the new manifests (files or directories); repeatable",
    )
    add_output_arg(p, ("text", "wide", "json"), "text")
    add_nodes_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    old = build(load(args.files), args.nodes)
    new = build(load(args.new_files), args.nodes)
    d = compute_diff(old, new)
    if args.output == "json":
        print_data(to_dict(d), "json")
    else:
        print(format_text(d, wide=args.output == "wide", colour=use_colour(sys.stdout)))
    return 1 if d.changed else 0
