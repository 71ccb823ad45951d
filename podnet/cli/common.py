"""Arguments, loading and printing shared by the verbs (kubectl conventions)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from podnet.text import COLOUR_MODES, colour_wanted, parse_duration

if TYPE_CHECKING:
    from podnet.errors import Location
    from podnet.kube import Observed
    from podnet.model.cluster import ClusterState
    from podnet.model.objects import Manifests

# What this invocation has warned about already (reset by podnet.cli.main.main): diff
# loads two inputs, and a cluster's warnings repeat its manifests'.
_warned: set[str] = set()


def reset_warnings() -> None:
    _warned.clear()


def warn(messages: Iterable[str], err: TextIO | None = None) -> None:
    """Print each message once per invocation on stderr as ``warning: ...`` (kubectl
    prints the API server's warnings so), keeping stdout for the verb's output; none
    with --quiet (errors only)."""
    if verbosity < 0:
        return
    out = err or sys.stderr
    for m in messages:
        if m not in _warned:
            _warned.add(m)
            out.write(f"warning: {m}\n")
    out.flush()


def load(
    paths: Sequence[str],
    stdin: TextIO | None = None,
    *,
    documents: Sequence[tuple[Any, Location]] | None = None,
    served: Callable[[str, str], bool] | None = None,
) -> Manifests:
    """Load the manifests and warn about what was skipped or changed on the way;
    ``documents``: those of ``paths``, already read (``podnet run`` keeps them);
    ``served(kind, apiVersion)``: kinds used although not modelled (not "skipped").

    Every verb loads through here, so none ignores anything silently."""
    from podnet.manifests import from_documents, load_paths  # here: run/probe start light

    progress(f"loading {', '.join(paths)}")
    if documents is not None:
        manifests = from_documents(documents, served=served)
    else:
        manifests = load_paths(paths, stdin=stdin)
    warn(manifests.warnings)
    progress(
        f"loaded {_count(len(manifests.pods), 'pod')}, "
        f"{_count(len(manifests.services), 'Service')}, "
        f"{_count(len(manifests.policies) + len(manifests.cluster_policies), 'policy', 'policies')}"
    )
    return manifests


def build(manifests: Manifests, nodes: int) -> ClusterState:
    """:func:`build_cluster`, warning about what the control plane could not do
    (Pending pods: nodeSelector, 110 pods per node)."""
    from podnet.control.cluster import build_cluster

    state = build_cluster(manifests, nodes=nodes)
    warn(state.warnings)
    placed = sum(1 for p in state.pods if p.node is not None)
    progress(
        f"cluster: {_count(len(state.nodes), 'node')}, {placed}/{_count(len(state.pods), 'pod')}"
        f" placed, {_count(len(state.services), 'Service')}"
    )
    return state


def add_cluster_args(parser: argparse.ArgumentParser, *, namespaces: bool = True) -> None:
    """``--from-cluster`` and kubectl's ``--context``, ``--kubeconfig``, ``-n``/``-A``
    (``namespaces=False`` where ``-n`` already means something else: explain)."""
    g = parser.add_argument_group("reading a running cluster (docs/from-cluster.md)")
    g.add_argument(
        "--from-cluster",
        action="store_true",
        help="read the objects from the Kubernetes API of the kubeconfig's context",
    )
    g.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    g.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig file")
    if namespaces:
        g.add_argument("-n", "--namespace", default=None, help="read one namespace (default: all)")
        g.add_argument(
            "-A", "--all-namespaces", action="store_true", help="read all namespaces (default)"
        )


def from_cluster(args: argparse.Namespace) -> Observed:
    """The objects of the cluster ``args`` name and the state they are in (observed IPs,
    nodes, readiness; see :mod:`podnet.kube.observed`), warning as :func:`build` does."""
    from podnet.kube import from_cluster as read  # here: file-only runs never import it

    namespace = None if getattr(args, "all_namespaces", False) else args.namespace
    progress(f"reading the cluster of context {args.context or '(current)'}")
    observed = read(args.kubeconfig, args.context, namespace)
    warn(observed.state.warnings)
    progress(f"read {_count(len(observed.state.pods), 'pod')}")
    return observed


def load_state(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> tuple[Manifests, ClusterState]:
    """``-f`` files built on ``--nodes`` nodes, or ``--from-cluster``: one of them."""
    if getattr(args, "from_cluster", False):
        if args.files:
            parser.error("-f and --from-cluster exclude each other (diff: --to takes files)")
        observed = from_cluster(args)
        return observed.manifests, observed.state
    if not args.files:
        parser.error("the following arguments are required: -f/--filename (or --from-cluster)")
    manifests = load(args.files)
    return manifests, build(manifests, args.nodes)


def add_file_args(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=required,
        metavar="PATH",
        help="manifest file, directory (recursive), http(s) URL or - for stdin; repeatable",
    )


def add_nodes_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=1, metavar="N", help="number of nodes")


def add_output_arg(parser: argparse.ArgumentParser, choices: Sequence[str], default: str) -> None:
    parser.add_argument(
        "-o", "--output", choices=list(choices), default=default, help="output format"
    )


def print_data(data: Any, fmt: str, out: TextIO | None = None) -> None:
    """Print ``data`` as ``json`` or ``yaml``."""
    out = out or sys.stdout
    if fmt == "yaml":
        yaml.safe_dump(data, out, sort_keys=False, default_flow_style=False)
    else:
        json.dump(data, out, indent=2)
        out.write("\n")


# The global flags' choices, set once per invocation by podnet.cli.main.main (--color,
# -v, --quiet); verbs read them through use_colour, progress and warn.
colour_mode = "auto"
verbosity = 0  # -1 --quiet (errors only), 0 normal, 1+ -v (progress lines on stderr)


def set_globals(*, colour: str = "auto", verbose: int = 0, quiet: bool = False) -> None:
    global colour_mode, verbosity
    if colour not in COLOUR_MODES:
        raise ValueError(f"--color={colour}: expected one of {', '.join(COLOUR_MODES)}")
    colour_mode = colour
    verbosity = -1 if quiet else verbose


def use_colour(out: TextIO | None = None) -> bool:
    """Colour for ``out`` as --color, NO_COLOR, TERM and the terminal decide
    (podnet.text.colour_wanted)."""
    return colour_wanted(out or sys.stdout, colour_mode)


def progress(message: str, err: TextIO | None = None) -> None:
    """A progress line on stderr, shown with -v only (kubectl's -v: more detail on
    stderr, stdout unchanged)."""
    if verbosity >= 1:
        out = err or sys.stderr
        out.write(f"{message}\n")
        out.flush()


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def duration(text: str) -> float:
    """argparse type for time flags: ``30s``, ``2m``, ``1h``, ``1m30s``, ``500ms`` (Go's
    time.ParseDuration, as kubectl's --timeout) or a plain number of seconds."""
    try:
        seconds = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must not be negative")
    return seconds
