"""``podnet probe -f PATH... [-o table|json] [--nodes N] [--via pod|service] [--deny drop|reject]``,
``podnet probe --cluster --cases PATH...`` and ``podnet probe --cluster --pods [-n/-A/-l]``.

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

``--cluster``: in the Kubernetes cluster of the kubeconfig's context (docs/from-cluster.md).
With ``--cases`` (conformance mode) each policy truth table is set up in its own test
namespaces (agnhost server pods), probed by exec, compared with the engine's prediction
over the objects read back, and deleted again, also on Ctrl-C. With ``--pods`` (opt-in)
the user's running pods chosen by -n/-A/-l are probed from an ephemeral agnhost container
added to each source pod: the plan is printed first; ``--dry-run`` stops there, and
without ``--yes`` podnet asks (and refuses when stdin is not a terminal).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from podnet.cli.common import (
    add_file_args,
    add_nodes_arg,
    add_output_arg,
    build,
    duration,
    load,
)
from podnet.cli.filters import add_filter_flags, select_pods
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
    add_file_args(p, required=False)
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
        "--timeout", type=duration, default=1.0, metavar="DURATION", help="per-probe timeout (1s)"
    )
    p.add_argument(
        "--ready-timeout",
        type=duration,
        default=None,
        metavar="DURATION",
        help=f"how long to wait for servers to listen ({READY_WAIT:g}s; --cluster: for pods "
        "to run, 3m)",
    )
    add_filter_flags(p)
    p.add_argument(
        "--prober",
        choices=list(TRANSPORTS),
        default="thread",
        help="probe from a thread in each pod's netns (fast) or a process per source pod",
    )
    g = p.add_argument_group("in a Kubernetes cluster (docs/from-cluster.md)")
    g.add_argument(
        "--cluster", action="store_true", help="probe in the cluster of the kubeconfig's context"
    )
    g.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    g.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig file")
    g.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="PATH",
        help="conformance mode: truth-table case files or directories; repeatable",
    )
    g.add_argument("--pods", action="store_true", help="probe your own pods (-n/-A/-l), opt-in")
    g.add_argument("--dry-run", action="store_true", help="--pods: print the plan and exit")
    g.add_argument("-y", "--yes", action="store_true", help="--pods: do not ask")
    g.add_argument("--parallel", type=int, default=10, metavar="N", help="execs at once (10)")
    g.add_argument("--qps", type=float, default=20.0, metavar="Q", help="new execs per second (20)")
    g.add_argument(
        "--settle",
        type=duration,
        default=1.0,
        metavar="DURATION",
        help="wait after creating a case's policies before probing (1s)",
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
    if args.cluster:
        return _run_cluster(args)
    if not args.files:
        _progress("error: -f/--filename is required (or --cluster)")
        return 2
    if args.cases or args.pods:
        _progress("error: --cases and --pods need --cluster")
        return 2
    # Imported here: the live stack is slow to import, and the CLI loads every verb's
    # module to build its parser (podnet.cli.main; figures in bench/README.md).
    from podnet.live.probe.render import format_table, write_json
    from podnet.live.probe.result import disagreements
    from podnet.live.probe.runner import probe_cluster, user_pods
    from podnet.live.run import Stopped
    from podnet.manifests.files import read_documents

    # The documents themselves are created through the core's API (as podnet run's);
    # loaded once, checked by the manifests layer first.
    documents = read_documents(args.files, stdin=sys.stdin)
    manifests = load(args.files, documents=documents)
    build(manifests, args.nodes)  # its warnings (and errors) before any namespace exists
    try:
        with _term_unwinds(Stopped):
            report = probe_cluster(
                manifests,
                documents=documents,
                nodes=args.nodes,
                via=args.via,
                deny=args.deny,
                timeout=args.timeout,
                choose=lambda state: select_pods(user_pods(manifests, state), args),
                progress=_progress,
                ready_wait=READY_WAIT if args.ready_timeout is None else args.ready_timeout,
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


def _run_cluster(args: argparse.Namespace) -> int:
    """``--cluster``: conformance mode (``--cases``) or the user's pods (``--pods``)."""
    from podnet.kube.client import Client
    from podnet.kube.config import load_config

    if args.files:
        _progress("error: --cluster reads no -f files (--cases for truth tables)")
        return 2
    if bool(args.cases) == bool(args.pods):
        _progress("error: --cluster needs one of --cases PATH... or --pods")
        return 2
    cfg = load_config(args.kubeconfig, args.context)
    with Client(cfg, timeout=30.0) as client:
        try:
            if args.cases:
                return _conformance(args, client)
            return _user_pods(args, client)
        except KeyboardInterrupt as e:
            signum = getattr(e, "signum", signal.SIGINT)
            _progress(f"{signal.Signals(signum).name} received; cleaned up")
            return 128 + signum


def _conformance(args: argparse.Namespace, client: Any) -> int:
    from podnet.live.probe.cluster_cases import Settings
    from podnet.live.probe.cluster_run import conformance, failed, format_runs, load_cases
    from podnet.live.probe.cluster_run import write_json as write_runs

    cases = load_cases(args.cases)
    settings = Settings(
        via=args.via,
        timeout=args.timeout,
        parallel=args.parallel,
        qps=args.qps,
        ready_timeout=180.0 if args.ready_timeout is None else args.ready_timeout,
        settle=args.settle,
    )
    runs, cleanup_errors = conformance(client, cases, settings, _progress)
    if args.output == "json":
        write_runs(runs, sys.stdout)
    else:
        print(format_runs(runs))
    return 1 if failed(runs) or cleanup_errors else 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _user_pods(args: argparse.Namespace, client: Any) -> int:
    from podnet.kube.observed import to_state
    from podnet.kube.read import read_cluster
    from podnet.live.probe.cluster_cleanup import new_run_id
    from podnet.live.probe.cluster_pods import format_plan, plan_user_probe, run_user_probe
    from podnet.live.probe.render import format_table, write_json
    from podnet.live.probe.result import disagreements

    namespace = None if args.all_namespaces else args.namespace
    observed = to_state(read_cluster(client, namespace))
    chosen = select_pods(observed.state.pods, args)
    up = plan_user_probe(observed, chosen, args.via, new_run_id())
    print(
        format_plan(up, args.qps, args.parallel),
        file=sys.stderr if not args.dry_run else sys.stdout,
    )
    if args.dry_run:
        return 0
    if not up.plan:
        _progress("nothing to probe")
        return 0
    if not args.yes and not _confirm("add the ephemeral containers and probe?"):
        _progress("not confirmed (stdin is not a terminal: pass --yes); nothing changed")
        return 1
    with _term_unwinds(lambda signum: _Stopped(signum)):
        report = run_user_probe(
            client,
            up,
            _progress,
            timeout=args.timeout,
            parallel=args.parallel,
            qps=args.qps,
            ready_timeout=120.0 if args.ready_timeout is None else args.ready_timeout,
        )
    if args.output == "json":
        write_json(report, sys.stdout)
    else:
        print(format_table(report))
    return 1 if disagreements(report.observations) else 0


class _Stopped(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
