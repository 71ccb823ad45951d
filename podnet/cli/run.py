"""``podnet run -f PATH... [--nodes N] [--timeout D] [--shell POD] [--logs M] [--follow POD]``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from podnet.cli import common
from podnet.cli.common import add_file_args, add_nodes_arg, build, duration, load, use_colour

if TYPE_CHECKING:
    from podnet.model.cluster import ClusterState

LOG_MODES = ("all", "clients", "none")  # podnet.live.runout.logs.LOG_MODES (a test checks)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the cluster for real: pods, Services, DNS in Linux namespaces",
        description=(
            "Bring the cluster up in namespaces podnet owns, run every pod's containers, "
            "stream their output prefixed with namespace/pod[/container], and tear "
            "everything down once every pod that runs to completion has done so. "
            "Pod output goes to stdout. Progress goes to stderr, with tables of the "
            "pods, Services and policies first and of the client pods' exits last. "
            "Server pods' output is folded by default (--logs). Find a running "
            "cluster's pods with `podnet exec POD -- CMD`."
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
        type=duration,
        default=None,
        metavar="DURATION",
        help="stop after DURATION (30s, 2m, 1m30s; a plain number is seconds); exit 1 "
        "if client pods are still running",
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
        "(the client times out; after 5 s of silence podnet names the policy), or "
        "reject it at once (faster feedback)",
    )
    p.add_argument(
        "--logs",
        choices=LOG_MODES,
        default="clients",
        help="whose output to show: all pods, the clients (pods that run to completion "
        "or serve no port; default: servers' lines are only counted), or none",
    )
    p.add_argument(
        "--follow",
        action="append",
        default=[],
        metavar="POD",
        help="show POD's (ns/name) output whatever --logs says; repeatable",
    )
    p.set_defaults(func=_run, parser=p)


def _served(kind: str, api_version: str) -> bool:
    """Whether the run's API creates documents of this kind (ConfigMaps, Secrets,
    claims...: they are used, not skipped)."""
    from podnet.apiserver.resources import by_api_version

    return by_api_version(api_version, kind) is not None


def _run(args: argparse.Namespace) -> int:
    # Imported here: the CLI registers every verb, and the live stack's imports (netlink,
    # nftables, runtime) would slow every other verb's start-up (bench/README.md).
    from podnet.live.run import run

    if args.shell is not None and "-" in args.files:
        # the shell reads podnet's stdin, which the manifests would already have used up
        args.parser.error("--shell needs stdin for the shell: give manifests as files")
    from podnet.manifests.files import read_documents

    # The documents themselves are created through the core's API (as kubectl apply);
    # loaded once, checked by the manifests layer first, as every verb's are.
    documents = read_documents(args.files, stdin=sys.stdin)
    manifests = load(args.files, documents=documents, served=_served)
    state = build(manifests, args.nodes)  # its warnings (and errors) before any namespace
    # Pod names on the command line are checked before anything is built (usage errors).
    follow = [_pod_key(args.parser, state, name, "--follow") for name in args.follow]
    if args.shell is not None:
        _pod_key(args.parser, state, args.shell, "--shell")
    quiet = common.verbosity < 0
    return run(
        manifests,
        documents=documents,
        nodes=args.nodes,
        timeout=args.timeout,
        shell=args.shell,
        deny=args.deny,
        logs=args.logs,
        follow=follow,
        colour=use_colour(sys.stdout),
        bar=None if not quiet else False,  # on a terminal only
        summary=not quiet,
        quiet=quiet,
    )


def _pod_key(parser: argparse.ArgumentParser, state: ClusterState, name: str, flag: str) -> str:
    """``ns/name``, or ``default/name`` as kubectl defaults; a usage error (exit 2)
    when the manifests have no such pod or it has no node to run on."""
    key = name if "/" in name else f"default/{name}"
    pod = state.pod(key)
    if pod is None:
        known = ", ".join(p.key for p in state.pods if p.namespace != "kube-system")
        parser.error(f"{flag} {name}: no pod {key} in the manifests (pods: {known or 'none'})")
    if pod.ip is None:
        parser.error(f"{flag} {name}: pod {key} is Pending (no node for it)")
    return key
