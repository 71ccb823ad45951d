"""Prints every finding with the file:line of its field. --disable turns rules off
(repeatable, or comma-separated); --rules lists the rules (also below).

-n NAMESPACE keeps the findings about objects of that namespace (and cluster-scoped
ones, which kubectl -n does not filter either); -l SELECTOR keeps the findings about
objects whose labels match (a workload: any of its pods; a NetworkPolicy and other kinds
podnet keeps no labels for: no labels). Every object is linted either way: a finding
about a selected pod may come from a policy elsewhere.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from podnet.analyze.lint.context import context_for_state
from podnet.analyze.lint.finding import RULE_TABLE, Finding, has_errors
from podnet.analyze.lint.render import format_rules, format_text, to_json
from podnet.analyze.lint.run import lint_context, unknown_rules
from podnet.analyze.matrix_levels import KUBECTL_RESOURCE, workload_of
from podnet.cli.common import add_cluster_args, add_file_args, add_nodes_arg, load_state, use_colour
from podnet.cli.filters import Selection, add_filter_flags, selection
from podnet.cli.outputs import add_output_flag, write_document
from podnet.errors import PodnetError
from podnet.model.cluster import ClusterState

# kubectl -o name's resource.group for the kinds lint reports on (printers/name.go)
_RESOURCES = {
    **KUBECTL_RESOURCE,
    "Service": "service",
    "Namespace": "namespace",
    "NetworkPolicy": "networkpolicy.networking.k8s.io",
    "AdminNetworkPolicy": "adminnetworkpolicy.policy.networking.k8s.io",
    "BaselineAdminNetworkPolicy": "baselineadminnetworkpolicy.policy.networking.k8s.io",
    "ClusterNetworkPolicy": "clusternetworkpolicy.policy.networking.k8s.io",
}
EXIT_CODES = """exit codes:
  0  no error-level finding (warnings and info do not fail)
  1  at least one error-level finding
  2  bad input (manifests that do not load, a cluster that cannot be read) or a
     usage error (an unknown rule name among them)"""


def _rules_epilog() -> str:
    lines = ["rules (severity: what it finds; podnet lint --rules for the full text):"]
    for r in RULE_TABLE:
        first = re.sub(r"\s*\([^)]*\)", "", r.meaning.split("; ")[0])
        lines += textwrap.wrap(
            f"{r.name} ({r.severity}): {first}",
            80,
            initial_indent="  ",
            subsequent_indent="      ",
            break_on_hyphens=False,
        )
    return "\n".join(lines)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "lint",
        help="find mistakes in pod networking (names, ports, policies)",
        description=__doc__,
        epilog=_rules_epilog() + "\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    add_filter_flags(p)
    add_output_flag(p, ("table", "json", "yaml", "name"), "table")
    add_nodes_arg(p)
    add_cluster_args(p, namespaces=False)
    p.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off (repeatable; RULE,RULE also works); see --rules",
    )
    p.add_argument("--rules", action="store_true", help="list the rules and exit")
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    if args.rules:
        if args.output in ("json", "yaml"):
            write_document("LintRuleList", {"rules": [vars(r) for r in RULE_TABLE]}, args.output)
        elif args.output == "name":
            print("\n".join(r.name for r in RULE_TABLE))
        else:
            print(format_rules(RULE_TABLE))
        return 0
    disable = {name.strip() for arg in args.disable for name in arg.split(",") if name.strip()}
    unknown = unknown_rules(disable)
    if unknown:
        parser.error(f"--disable: unknown rule(s) {', '.join(unknown)} (see podnet lint --rules)")
    try:
        _, state = load_state(args, parser)  # warns about what it skips
    except PodnetError as e:  # bad input: 2, distinct from findings (1)
        print(f"error: {e}", file=sys.stderr)
        return 2
    everything = lint_context(context_for_state(state), disable)
    findings = select_findings(everything, state, selection(args))
    if args.output in ("json", "yaml"):
        write_document("LintReport", to_json(findings), args.output)
    elif args.output == "name":
        names = dict.fromkeys(_kubectl_name(f.object) for f in findings)
        sys.stdout.write("".join(n + "\n" for n in names))
    else:
        print(format_text(findings, colour=use_colour(sys.stdout)))
    return 1 if has_errors(findings) else 0


def _split(ref: str) -> tuple[str, str | None, str]:
    """``Kind/ns/name`` or ``Kind/name`` -> (kind, namespace or None, name)."""
    parts = ref.split("/", 2)
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], None, parts[-1]


def _kubectl_name(ref: str) -> str:
    kind, _, name = _split(ref)
    return f"{_RESOURCES.get(kind, kind.lower())}/{name}"


def select_findings(
    findings: Sequence[Finding], state: ClusterState, sel: Selection
) -> list[Finding]:
    """The findings about the objects ``sel`` selects (see the module doc)."""
    if not sel.active:
        return list(findings)
    labels: dict[str, list[dict[str, str]]] = {}
    for p in state.pods:
        labels.setdefault(f"Pod/{p.key}", []).append(p.labels)
        kind, name = workload_of(p)
        if kind != "Pod":
            labels.setdefault(f"{kind}/{p.namespace}/{name}", []).append(p.labels)
    for s in state.services:
        labels.setdefault(f"Service/{s.key}", []).append(s.labels)
    for ns in state.namespaces:
        labels.setdefault(f"Namespace/{ns.name}", []).append(ns.labels)
    out = []
    for f in findings:
        kind, namespace, _ = _split(f.object)
        if kind == "Namespace":
            namespace = _split(f.object)[2]  # a Namespace is "in" itself for -n
        if any(sel.matches(namespace, lb) for lb in labels.get(f.object, [{}])):
            out.append(f)
    return out
