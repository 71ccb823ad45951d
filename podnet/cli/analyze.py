"""``podnet analyze -f PATH... [-o table|json] [--nodes N] [--all]``.

Who can reach whom: every ordered pair of distinct pods, on every port the destination
serves (declared containerPorts, targetPorts of Services selecting it, ports its image
is known to serve), judged by the NetworkPolicy engine.

Pods: those of the user's manifests (including workload and DaemonSet pods). The
pods podnet adds itself (the cluster DNS, ``kube-system/coredns-0``) are left out
unless ``--all`` is given; the policies always apply to them either way.
With ``--from-cluster`` the pods outside kube-system are shown unless ``--all``.
Pending pods (no IP) are listed in ``-o json`` ``pods`` with ``ip: null`` and take part
in no connection. Exit code 0, or 1 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podnet.analyze.matrix import compute_matrix
from podnet.analyze.matrix_format import format_table, write_json
from podnet.cli.common import (
    add_cluster_args,
    add_file_args,
    add_nodes_arg,
    add_output_arg,
    load_state,
    use_colour,
)
from podnet.cli.filters import add_filter_flags, select_pods
from podnet.control.cluster import user_pods


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "analyze",
        help="connectivity matrix: which pod may reach which, on which port",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    add_filter_flags(p)
    add_cluster_args(p, namespaces=False)
    add_output_arg(p, ("table", "json"), "table")
    add_nodes_arg(p)
    p.add_argument("--all", action="store_true", help="include the pods podnet adds (cluster DNS)")
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    manifests, state = load_state(args, args.parser)
    if args.all:
        pods = list(state.pods)
    elif args.from_cluster:  # the cluster's own add-ons (DNS, CNI) live in kube-system
        pods = [p for p in state.pods if p.namespace != "kube-system"]
    else:
        pods = user_pods(manifests, state)
    pods = select_pods(pods, args)
    matrix = compute_matrix(state, pods)
    if args.output == "json":
        write_json(matrix, pods, sys.stdout)
    else:
        pending = [p for p in pods if p.ip is None]
        colour = use_colour(sys.stdout)
        print(format_table(matrix, state.policies, colour=colour, pending=pending))
    return 0
