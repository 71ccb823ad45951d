"""``podnet probe -f PATH... [-o table|json] [--nodes N] [--via pod|service] [--deny drop|reject]``.

Brings the cluster up for real (namespaces, nftables, the pods' containers), waits
until the servers listen, then from inside every pod tries every other pod on every
port it serves - TCP connect, UDP datagram and reply, SCTP where the kernel has it -
all in parallel with a 1 s timeout, as upstream's NetworkPolicy e2e probe does. With
``--via service`` each connection goes to the ClusterIP of a Service leading to the
destination (as upstream probes); pairs without one are reported as "no service".

Prints the observed matrix next to the policy engine's prediction and every
disagreement. Pods probed: those of the user's manifests (as ``analyze``).
Exit code 0 when everything agrees, 1 on any disagreement or error, 128+N when stopped
by signal N after teardown (130 Ctrl-C, 143 SIGTERM, as ``podnet run``). Progress on stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from podnet.cli.common import add_file_args, add_nodes_arg, add_output_arg, build, load
from podnet.live.probe.plan import VIAS
from podnet.live.probe.prober import TRANSPORTS
from podnet.live.probe.ready import READY_WAIT


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "probe",
        help="run the cluster and check the connectivity matrix against reality",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p)
    add_output_arg(p, ("table", "json"), "table")
    add_nodes_arg(p)
    p.add_argument("--via", choices=list(VIAS), default="pod", help="probe pod IPs or ClusterIPs")
    p.add_argument(
        "--deny",
        choices=["drop", "reject"],
        default="drop",
        help="what the policy tables do with denied traffic",
    )
    p.add_argument(
        "--timeout", type=float, default=1.0, metavar="S", help="per-probe timeout (seconds)"
    )
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=READY_WAIT,
        metavar="S",
        help="how long to wait for servers to listen before probing anyway",
    )
    p.add_argument(
        "--prober",
        choices=list(TRANSPORTS),
        default="thread",
        help="probe from a thread in each pod's netns (fast) or a process per source pod",
    )
    p.set_defaults(func=run)


@contextmanager
def _term_unwinds(stopped: Callable[[int], KeyboardInterrupt]) -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C (raising ``stopped(signum)``, a KeyboardInterrupt),
    so the cluster is torn down (and its state directory removed) before exit; ``run``
    then returns 128+15 as a shell reports a process killed by SIGTERM, and as
    ``podnet run`` does. Ctrl-C stays a plain KeyboardInterrupt (130 in cli.main)."""

    def raise_stopped(signum: int, _frame: object) -> None:
        raise stopped(signum)

    previous = signal.signal(signal.SIGTERM, raise_stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _progress(msg: str) -> None:
    sys.stderr.write(f"podnet: {msg}\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    # Imported here: the live stack is slow to import, and the CLI loads every verb's
    # module to build its parser (podnet.cli.main; figures in bench/README.md).
    from podnet.control.cluster import user_pods
    from podnet.live.probe.render import format_table, write_json
    from podnet.live.probe.result import disagreements
    from podnet.live.probe.runner import probe_cluster
    from podnet.live.run import Stopped

    manifests = load(args.files)
    build(manifests, args.nodes)  # its warnings (and errors) before any namespace exists
    try:
        with _term_unwinds(Stopped):
            report = probe_cluster(
                manifests,
                nodes=args.nodes,
                via=args.via,
                deny=args.deny,
                timeout=args.timeout,
                choose=lambda state: user_pods(manifests, state),
                progress=_progress,
                ready_wait=args.ready_timeout,
                transport=args.prober,
            )
    except Stopped as e:
        _progress(f"{signal.Signals(e.signum).name} received; torn down")
        return 128 + e.signum
    wrong = disagreements(report.observations)
    _progress(
        f"{len(report.observations)} probes, {len(wrong)} disagreement(s), "
        f"{report.timings['total']:.2f}s in all"
    )
    if args.output == "json":
        write_json(report, sys.stdout)
    else:
        print(format_table(report))
    return 1 if wrong else 0
