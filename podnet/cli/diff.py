"""Lists the connections (pod pair and port) the change from OLD to NEW manifests opens
or closes, the Services whose endpoints change, and pods and Services added or removed.
--from-cluster --to NEW: what applying NEW to the cluster would open or close. Pods are
matched by namespace/name.

-n NAMESPACE and -l SELECTOR keep the changes about the selected pods (a connection
when either end is selected: what changes for those pods, in or out), Services (their namespace and
labels) and cluster policies (cluster-scoped: -n keeps them, -l matches no labels); the
exit code is that of the selection. Without -n or -A every namespace is compared.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from podnet.analyze.diff import Diff, compute_diff
from podnet.analyze.diff_format import format_text, to_dict
from podnet.cli.common import (
    add_cluster_args,
    add_file_args,
    add_nodes_arg,
    build,
    from_cluster,
    load,
    load_state,
    use_colour,
    warn,
)
from podnet.cli.filters import Selection, add_filter_flags, selection
from podnet.cli.outputs import add_output_flag, write_document
from podnet.errors import PodnetError
from podnet.model.cluster import ClusterState

EPILOG = """examples:
  podnet diff -f base/ --to base/ fixed/
  podnet diff -f base/ --to new/ -n shop -o wide
  podnet diff --from-cluster --to new/ -l app=api -o json

exit codes, as kubectl diff and diff(1):
  0  no change (within -n/-l)
  1  something changed
  2  bad input or failure (manifests that do not load, a cluster that cannot be
     read), usage errors"""

KIND = "ConnectivityDiff"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="connections and endpoints a change of manifests opens or closes",
        description=__doc__,
        epilog=EPILOG,
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
    add_filter_flags(p)
    add_output_flag(p, ("text", "wide", "json", "yaml"), "text")
    add_nodes_arg(p)
    add_cluster_args(p, namespaces=False)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    try:
        old, new = _states(args)
    except PodnetError as e:  # a failure is 2: 1 means "changed"
        print(f"error: {e}", file=sys.stderr)
        return 2
    d = select_diff(compute_diff(old, new), old, new, selection(args))
    if args.output in ("json", "yaml"):
        write_document(KIND, to_dict(d), args.output)
    else:
        print(format_text(d, wide=args.output == "wide", colour=use_colour(sys.stdout)))
    return 1 if d.changed else 0


def _states(args: argparse.Namespace) -> tuple[ClusterState, ClusterState]:
    if args.from_cluster:  # the cluster now, and after kubectl apply -f NEW
        from podnet.kube import apply_files

        if args.files:
            args.parser.error("-f and --from-cluster exclude each other (--to takes the files)")
        observed = from_cluster(args)
        old = observed.state
        new = apply_files(old, observed.ready, load(args.new_files))
        warn(new.warnings)
        return old, new
    _, old = load_state(args, args.parser)
    return old, build(load(args.new_files), args.nodes)


def select_diff(d: Diff, old: ClusterState, new: ClusterState, sel: Selection) -> Diff:
    """The changes about what ``sel`` selects (see the module doc)."""
    if not sel.active:
        return d
    labels: dict[str, dict[str, str]] = {}
    for state in (old, new):  # new wins: a pod's labels as they will be
        labels.update({p.key: p.labels for p in state.pods})
        labels.update({f"svc:{s.key}": s.labels for s in state.services})

    def pod(key: str) -> bool:
        return sel.matches(key.split("/", 1)[0], labels.get(key, {}))

    def svc(key: str) -> bool:
        return sel.matches(key.split("/", 1)[0], labels.get(f"svc:{key}", {}))

    def cluster(keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k for k in keys if sel.matches(None, {}))

    return replace(
        d,
        connections=tuple(c for c in d.connections if pod(c.src) or pod(c.dst)),
        endpoints=tuple(e for e in d.endpoints if svc(e.service)),
        pods_added=tuple(k for k in d.pods_added if pod(k)),
        pods_removed=tuple(k for k in d.pods_removed if pod(k)),
        services_added=tuple(k for k in d.services_added if svc(k)),
        services_removed=tuple(k for k in d.services_removed if svc(k)),
        cluster_policies_added=cluster(d.cluster_policies_added),
        cluster_policies_removed=cluster(d.cluster_policies_removed),
        cluster_policies_changed=cluster(d.cluster_policies_changed),
    )
