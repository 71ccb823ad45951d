"""``podnet exec [-n NS] [-c C] [-i] [-t] [--cluster PID] POD [-- CMD ARGS...]`` (kubectl
exec), in a pod of a ``podnet run`` or a ``podnet up`` (both announce themselves,
:mod:`podnet.live.registry`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "exec",
        help="run a command in a pod of a running podnet run or podnet up (default: sh)",
        description=(
            "Run CMD inside POD of the cluster a `podnet run` or `podnet up` of this user "
            "is running: the pod's network, hostname, /etc files and processes, like "
            "kubectl exec. Standard input, output, the terminal and the exit code are "
            "the command's own (podnet becomes the command), so -i and -t are implied."
        ),
    )
    p.add_argument("-n", "--namespace", default="default", help="the pod's namespace")
    p.add_argument(
        "-c",
        "--container",
        help="accepted as kubectl's: a pod's containers share its namespaces here",
    )
    p.add_argument("-i", "--stdin", action="store_true", help="kubectl's; always so here")
    p.add_argument("-t", "--tty", action="store_true", help="kubectl's; always so here")
    p.add_argument(
        "--cluster",
        type=int,
        metavar="PID",
        help="the podnet run or podnet up process, if several run",
    )
    p.add_argument("pod", metavar="POD", help="pod name (or namespace/name)")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command")
    p.set_defaults(func=_exec)


def _exec(args: argparse.Namespace) -> int:
    from podnet.live.exec import exec_in_pod  # here: keep other verbs' start-up light

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    exec_in_pod(args.pod, command, namespace=args.namespace, cluster=args.cluster)
    return 1  # not reached: exec_in_pod replaces this process or raises
