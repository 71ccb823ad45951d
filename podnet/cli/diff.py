"""``podnet diff -f OLD... --to NEW... [-o text|wide|json] [--nodes N]``.

Lists the connections (pod pair and port) the change from OLD to NEW manifests opens
or closes, the Services whose endpoints change, and pods and Services added or removed.
``--from-cluster --to NEW``: what applying NEW to the cluster would open or close.
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
    add_cluster_args,
    add_file_args,
    add_nodes_arg,
    add_output_arg,
    build,
    from_cluster,
    load,
    load_state,
    print_data,
    use_colour,
    warn,
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="connections and endpoints a change of manifests opens or closes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
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
    add_cluster_args(p)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    if args.from_cluster:  # the cluster now, and after kubectl apply -f NEW
        from podnet.kube import apply_files

        if args.files:
            args.parser.error("-f and --from-cluster exclude each other (--to takes the files)")
        observed = from_cluster(args)
        old = observed.state
        new = apply_files(old, observed.ready, load(args.new_files))
        warn(new.warnings)
    else:
        _, old = load_state(args, args.parser)
        new = build(load(args.new_files), args.nodes)
    d = compute_diff(old, new)
    if args.output == "json":
        print_data(to_dict(d), "json")
    else:
        print(format_text(d, wide=args.output == "wide", colour=use_colour(sys.stdout)))
    return 1 if d.changed else 0
