"""``podnet run -f PATH... [--nodes N] [--timeout S] [--shell POD]``."""

from __future__ import annotations

import argparse
import sys

from podnet.cli.common import add_file_args, add_nodes_arg, build, load


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the cluster for real: pods, Services, DNS in Linux namespaces",
        description=(
            "Bring the cluster up in namespaces podnet owns, run every pod's containers, "
            "stream their output prefixed with namespace/pod[/container], and tear "
            "everything down once every pod that runs to completion has done so. "
            "Pod output goes to stdout, progress to stderr. Find a running cluster's "
            "pods with `podnet exec POD -- CMD`."
        ),
        epilog=(
            "exit codes: 0 every client pod's containers exited 0; 1 one did not, the "
            "timeout struck, or an error; 128+N stopped by signal N (130 Ctrl-C, 143 "
            "SIGTERM); with --shell, the shell's exit code."
        ),
    )
    add_file_args(p)
    add_nodes_arg(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (exit 1 if pods are still running)",
    )
    p.add_argument(
        "--shell",
        metavar="POD",
        help="open an interactive shell in POD (ns/name) once the cluster is up",
    )
    p.add_argument(
        "--deny",
        choices=["drop", "reject"],
        default="drop",
        help="what NetworkPolicies do to denied traffic: drop it, as most CNIs do "
        "(the client times out), or reject it at once (faster feedback)",
    )
    p.set_defaults(func=_run, parser=p)


def _run(args: argparse.Namespace) -> int:
    # Imported here: the CLI registers every verb, and the live stack's imports (netlink,
    # nftables, runtime) would slow every other verb's start-up (bench/README.md).
    from podnet.live.run import run

    if args.shell is not None and "-" in args.files:
        # the shell reads podnet's stdin, which the manifests would already have used up
        args.parser.error("--shell needs stdin for the shell: give manifests as files")
    manifests = load(args.files, stdin=sys.stdin)
    build(manifests, args.nodes)  # its warnings (and errors) before any namespace exists
    return run(manifests, nodes=args.nodes, timeout=args.timeout, shell=args.shell, deny=args.deny)
