"""podnet analyze -f PATH... [-n NS | -A] [-l SELECTOR] [-o FORMAT] [--level pod|workload]

Who can reach whom: every ordered pair of distinct pods, on every port the destination
serves (declared containerPorts, targetPorts of Services selecting it, ports its image
is known to serve), judged by the NetworkPolicy engine.

Pods: those of the user's manifests (including workload and DaemonSet pods), in every
namespace unless -n or -l narrow them (both ends of each connection are among the
selected pods; the policies of every namespace still apply). The pods podnet adds itself
(the cluster DNS, kube-system/coredns-0) are left out unless --all is given. With
--from-cluster the pods outside kube-system are shown unless --all. Pending pods (no IP)
are listed in -o json "pods" with "ip": null and take part in no connection.

Formats: table (a grid per port, or per pod class when large), wide (the pods with IP,
node and workload first), json and yaml (every connection with its verdict and reason;
docs/output-contract.md), name (kubectl's pod/NAME), and netpol-analyzer's csv, md and
dot (the allowed flows only). --level workload groups pods by Deployment, StatefulSet,
DaemonSet, Job...: every format then shows workloads; the table's cells say whether
all (✓), some (~) or none (✗) of two workloads' pod pairs are allowed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from podnet.analyze.matrix import Matrix, compute_matrix
from podnet.analyze.matrix_format import (
    format_table,
    format_workload_table,
    write_json,
    write_yaml,
)
from podnet.analyze.matrix_levels import (
    LEVELS,
    cell_dict,
    cells,
    endpoint_dict,
    endpoints,
    flows,
    kubectl_name,
    workload_of,
    write_csv,
    write_md,
)
from podnet.cli.common import add_cluster_args, add_file_args, add_nodes_arg, load_state, use_colour
from podnet.cli.filters import add_filter_flags, select_pods
from podnet.cli.outputs import API_VERSION, add_output_flag, write_document
from podnet.control.cluster import user_pods
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod
from podnet.text import table

EPILOG = """examples:
  podnet analyze -f shop/                      # every namespace
  podnet analyze -f shop/ -n shop -l app=web   # pods of shop labelled app=web
  podnet analyze -f shop/ -o csv --level workload
  podnet analyze -f shop/ -o dot | dot -Tsvg > flows.svg

exit codes: 0 the matrix was printed, 1 bad input (manifests), 2 usage error."""

KIND = "ConnectivityMatrix"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "analyze",
        help="connectivity matrix: which pod may reach which, on which port",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    add_filter_flags(p)
    add_cluster_args(p, namespaces=False)
    add_output_flag(p, ("table", "wide", "json", "yaml", "name", "csv", "md", "dot"), "table")
    p.add_argument(
        "--level",
        choices=LEVELS,
        default="pod",
        help="pod, or workload (pods grouped by owner: Deployment, StatefulSet, ...)",
    )
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
    fmt, level, out = args.output, args.level, sys.stdout
    if fmt in ("json", "yaml"):
        if level == "pod":
            head = {"apiVersion": API_VERSION, "kind": KIND, "level": "pod"}
            (write_json if fmt == "json" else write_yaml)(matrix, pods, out, head)
        else:
            eps, all_cells = cells(matrix, level)
            body = {
                "level": level,
                "workloads": [endpoint_dict(e) for e in eps],
                "connections": [cell_dict(c) for c in all_cells],
            }
            write_document(KIND, body, fmt, out)
    elif fmt == "name":
        eps, _ = endpoints(matrix.pods, level)
        out.write("".join(kubectl_name(e) + "\n" for e in eps))
    elif fmt in ("csv", "md"):
        (write_csv if fmt == "csv" else write_md)(flows(matrix, level), out)
    elif fmt == "dot":
        out.write(_dot(matrix, level, state))
    else:
        pending = [p for p in pods if p.ip is None]
        colour = use_colour(out)
        if level == "pod":
            text = format_table(matrix, state.policies, colour=colour, pending=pending)
            wide = _pods_table(pods)
        else:
            text = format_workload_table(matrix, state.policies, colour=colour, pending=pending)
            wide = _workloads_table(pods)
        if fmt == "wide":
            text = wide + "\n\n" + text
        print(text)
    return 0


def _pods_table(pods: Sequence[Pod]) -> str:
    """kubectl get pods -o wide's columns that matter here, and the workload."""
    rows = []
    for p in sorted(pods, key=lambda p: p.key):
        kind, name = workload_of(p)
        rows.append([p.namespace, p.name, p.ip or "<none>", p.node or "<none>", f"{kind}/{name}"])
    return table(rows, ["NAMESPACE", "NAME", "IP", "NODE", "WORKLOAD"])


def _workloads_table(pods: Sequence[Pod]) -> str:
    """-o wide at workload level: each workload's kind, pods and nodes (pending pods
    count in PODS, as in the JSON's ``workloads``, and have no node)."""
    rows = []
    by_key = {p.key: p for p in pods}
    for e in endpoints(pods, "workload")[0]:
        nodes = sorted({n for k in e.pods if (n := by_key[k].node)})
        rows.append([e.namespace, e.name, e.kind, str(len(e.pods)), ",".join(nodes) or "<none>"])
    return table(rows, ["NAMESPACE", "NAME", "KIND", "PODS", "NODES"])


def _dot(matrix: Matrix, level: str, state: ClusterState) -> str:
    """The allowed flows as Graphviz, drawn by the report's code (the same picture)."""
    from podnet.analyze.report.graph import matrix_dot  # here: only -o dot pays for it

    return matrix_dot(matrix, level=level, state=state, title="podnet analyze")
