"""``podnet explain -f PATH... FROM TO[:PORT[/PROTO]] [-o text|json] [--nodes N] [-n NS]``.

Traces one connection: DNS lookup (the source pod's search path, ndots:5), Service port
and targetPort, every endpoint, and the egress and ingress NetworkPolicy verdicts.

FROM: ``pod``, ``ns/pod``, ``pod/name``, ``deploy/web``, ``sts/db``, ``ns/deploy/web``.
TO: the same, or ``svc/name``, ``svc/ns/name``, an IP, or a DNS name as a container
would use it (``my-service``, ``my-service.shop``, ``my-service.shop.svc.cluster.local``).
PORT defaults to the Service's only port, or the destination pod's only port.

Exit codes: 0 when the connection is reachable (every endpoint allowed), 1 when it is
not (no endpoints, not resolved, denied, or only some endpoints allowed) or on error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podnet.analyze.explain.connection import explain
from podnet.analyze.explain.render import format_text, to_dict
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
        "explain",
        help="trace one connection: DNS, Service, endpoints, policy verdicts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    p.add_argument("source", metavar="FROM", help="source pod or workload")
    p.add_argument("target", metavar="TO", help="pod, Service, DNS name or IP, with :PORT")
    p.add_argument("-n", "--namespace", default=None, help="namespace of FROM (and TO)")
    add_output_arg(p, ("text", "json"), "text")
    add_nodes_arg(p)
    add_cluster_args(p, namespaces=False)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    _, state = load_state(args, args.parser)  # --from-cluster: all namespaces
    e = explain(state, args.source, args.target, args.namespace)
    if args.output == "json":
        print_data(to_dict(e), "json")
    else:
        print(format_text(e, colour=use_colour(sys.stdout)))
    return 0 if e.reachable else 1
