"""``podnet up [--nodes N] [--name NAME] [--kubeconfig PATH] [--data-dir DIR] [--port P]``."""

from __future__ import annotations

import argparse

from podnet.cli.common import add_nodes_arg


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "up",
        help="keep a cluster running and serve the Kubernetes API (kubectl, helm, clients)",
        description=(
            "Bring a cluster up and keep it running in the foreground, as `k3s server` "
            "does, serving the Kubernetes API over HTTPS on 127.0.0.1 until Ctrl-C or "
            "SIGTERM; then tear everything down, as `run` does. A kubeconfig for it is "
            "written to --kubeconfig, else merged into $KUBECONFIG (or ~/.kube/config) "
            "as context podnet-NAME and made current, as kind does; its entries are "
            "removed again when the cluster stops. With --data-dir the cluster's "
            "objects, certificates and token persist there, and a restart brings the "
            "objects back (pods are recreated with new IPs, as after a node reboot; "
            "Services keep their ClusterIPs); without it they live in a scratch "
            "directory that goes with the cluster."
        ),
        epilog="exit codes: 0 stopped by Ctrl-C or SIGTERM after a clean teardown; 1 an error.",
    )
    add_nodes_arg(p)
    p.add_argument("--name", default="podnet", help="the cluster's name (context podnet-NAME)")
    p.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="write the kubeconfig here instead of merging it into $KUBECONFIG/~/.kube/config",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the cluster's store, certificates and token here (created mode 0700)",
    )
    p.add_argument(
        "--port", type=int, default=0, metavar="P", help="the API's port (default: any free one)"
    )
    p.add_argument(
        "--address",
        default="127.0.0.1",
        metavar="IP",
        help="the address the API listens on (default loopback only: the API can exec "
        "into pods, so it is root on this machine)",
    )
    p.set_defaults(func=_up, parser=p)


def _up(args: argparse.Namespace) -> int:
    # Imported here: the live stack's imports would slow every other verb's start-up.
    from podnet.live.up import up
    from podnet.live.upcluster import UpOptions

    if not 0 <= args.port <= 65535:
        args.parser.error(f"--port {args.port}: expected 0..65535")
    return up(
        UpOptions(
            nodes=args.nodes,
            name=args.name,
            kubeconfig=args.kubeconfig,
            data_dir=args.data_dir,
            port=args.port,
            address=args.address,
        )
    )
