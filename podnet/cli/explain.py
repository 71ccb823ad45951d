"""Traces one connection: DNS lookup (the source pod's search path, ndots:5), Service port
and targetPort, every endpoint, and the egress and ingress NetworkPolicy verdicts.

FROM: pod, ns/pod, pod/name, deploy/web, sts/db, ns/deploy/web, svc/api: kubectl's
TYPE/NAME with pod (po), deployment (deploy), statefulset (sts), daemonset (ds),
replicaset (rs), replicationcontroller (rc), job, cronjob (cj), service (svc), plural
or with the API group (deployment.apps/web). A workload or a Service stands for its first
pod by name, as kubectl exec deploy/x picks one.
TO: the same, an IP, or a DNS name as a container would use it (my-service,
my-service.shop, my-service.shop.svc.cluster.local). PORT defaults to the Service's only
port, or the destination pod's only port.

-n NS: the namespace of FROM and TO names (default: default, TO the source's). -l
SELECTOR replaces FROM: the first pod by namespace/name whose labels match, in -n's
namespace or in every namespace. -A: names without a namespace are looked up in every
namespace (an error when two namespaces have one).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from podnet.analyze.explain.connection import explain
from podnet.analyze.explain.render import format_text, to_dict
from podnet.analyze.explain.target import (
    POD_KINDS,
    SERVICE_KINDS,
    WORKLOAD_KINDS,
    find_pod,
    find_service,
    split_port,
)
from podnet.cli.common import add_cluster_args, add_file_args, add_nodes_arg, load_state, use_colour
from podnet.cli.filters import add_filter_flags, selection
from podnet.cli.outputs import add_output_flag, write_document
from podnet.errors import PodnetError, TargetError
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod
from podnet.model.selectors import matches_map

EPILOG = """examples:
  podnet explain -f shop/ -n shop deploy/frontend svc/api:80
  podnet explain -f shop/ -A deploy/frontend api.shop:http
  podnet explain -f shop/ -n shop -l app=frontend api:80 -o yaml

exit codes (an answer is not an error):
  0  reachable: every endpoint the connection may land on is allowed
  1  not reachable: no endpoints, not resolved, denied, or only some endpoints allowed
  2  bad input: no such pod/workload/Service, bad port, manifests that do not load,
     usage errors"""

KIND = "ConnectionExplanation"
_KINDS = set(WORKLOAD_KINDS) | POD_KINDS | SERVICE_KINDS
# kubectl's resource.group form: deployment.apps, deployments.apps, job.batch, pods.
_GROUPED = re.compile(r"^(?P<kind>[a-z]+)\.(apps|batch|extensions|core|v1)$")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="trace one connection: DNS, Service, endpoints, policy verdicts",
        description=__doc__,
        usage="podnet explain [-f PATH]... [-n NS | -A] [-o FORMAT] [options] FROM TO\n"
        "       podnet explain [-f PATH]... -l SELECTOR [-n NS | -A] [options] TO",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_args(p, required=False)
    p.add_argument(
        "refs", nargs="+", metavar="FROM TO", help="source (not with -l), destination[:PORT]"
    )
    # explain's -n/-A name where FROM and TO are, not which pods are shown
    p.add_argument(
        "-n", "--namespace", default=None, help="namespace of FROM and TO (default: default)"
    )
    p.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="look FROM/TO names without a namespace up in every namespace",
    )
    add_filter_flags(
        p, selector_help="FROM is the first pod (by namespace/name) whose labels match"
    )
    add_output_flag(p, ("text", "json", "yaml"), "text")
    add_nodes_arg(p)
    add_cluster_args(p, namespaces=False)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    want = 1 if args.selector else 2
    if len(args.refs) != want:
        parser.error("with -l give only TO" if args.selector else "give FROM and TO")
    try:
        _, state = load_state(args, parser)  # --from-cluster: all namespaces
        source, target = _refs(state, args)
        namespace = None if args.all_namespaces else args.namespace
        e = explain(state, source, target, namespace)
    except PodnetError as err:  # bad input: 2, distinct from "not reachable"
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.output in ("json", "yaml"):
        write_document(KIND, to_dict(e), args.output)
    else:
        print(format_text(e, colour=use_colour(sys.stdout)))
    return 0 if e.reachable else 1


def _refs(state: ClusterState, args: argparse.Namespace) -> tuple[str, str]:
    """FROM and TO as :func:`explain` takes them: kinds normalised, -l, -A and svc/x
    (a Service as source) resolved to a pod."""
    if args.selector:
        source = _selected_pod(state, args).key
        target = args.refs[0]
    else:
        source, target = (_normal(r) for r in args.refs)
        if args.all_namespaces:
            source = _qualified(state, source)
        source = _service_pod(state, source, args.namespace or "default")
    if args.all_namespaces:
        head, _ = split_port(target)
        tail = target[len(head) :]
        target = _qualified(state, _normal(head)) + tail
    return source, _normal(target)


def _normal(ref: str) -> str:
    """``deployment.apps/web`` -> ``deployment/web`` (TYPE lower-cased by find_pod)."""
    if "/" not in ref:
        return ref
    parts = ref.split("/")
    for i, part in enumerate(parts[:2]):
        m = _GROUPED.match(part.lower())
        if m and m.group("kind") in _KINDS:
            parts[i] = m.group("kind")
    return "/".join(parts)


def _selected_pod(state: ClusterState, args: argparse.Namespace) -> Pod:
    sel = selection(args)
    pods = sorted((p for p in sel.pods(state.pods) if p.ip), key=lambda p: p.key)
    if not pods:
        raise TargetError(f"no scheduled pod matches -l {args.selector!r} ({sel.describe()})")
    return pods[0]


def _service_pod(state: ClusterState, ref: str, namespace: str) -> str:
    """``svc/x`` as FROM: its first scheduled pod by name (kubectl exec svc/x picks one
    of the Service's pods: kubectl/pkg/polymorphichelpers/attachablepodforobject.go)."""
    parts = ref.split("/")
    if len(parts) < 2 or parts[0].lower() not in SERVICE_KINDS:
        return ref
    svc = find_service(state, ref, namespace)
    if svc is None:
        raise TargetError(f"no Service {ref!r} (namespace {namespace})")
    if not svc.selector:
        raise TargetError(f"Service {svc.key} has no selector: it has no pods to start from")
    pods = sorted(
        (
            p
            for p in state.pods
            if p.namespace == svc.namespace and p.ip and matches_map(svc.selector, p.labels)
        ),
        key=lambda p: p.name,
    )
    if not pods:
        raise TargetError(f"Service {svc.key} selects no scheduled pod")
    return pods[0].key


def _qualified(state: ClusterState, ref: str) -> str:
    """-A: ``name``, ``kind/name`` looked up in every namespace and given the one that
    has it (``ns/name``, ``ns/kind/name``, ``svc/ns/name``); unchanged when none has it,
    an error when several do. Other forms (DNS names, IPs, namespaced refs) unchanged."""
    parts = ref.split("/")
    if len(parts) > 2 or (len(parts) == 2 and parts[0].lower() not in _KINDS):
        return ref
    kind = parts[0].lower() if len(parts) == 2 else ""
    namespaces = sorted({p.namespace for p in state.pods} | {s.namespace for s in state.services})
    found: list[str] = []
    for ns in namespaces:
        if kind in SERVICE_KINDS:
            if find_service(state, ref, ns) is not None:
                found.append(f"{kind}/{ns}/{parts[1]}")
        elif kind in POD_KINDS:
            if find_pod(state, ref, ns) is not None:
                found.append(f"{kind}/{ns}/{parts[1]}")
        elif find_pod(state, ref, ns) is not None:
            found.append(f"{ns}/{ref}")
    if len(found) > 1:
        where = ", ".join(f.split("/")[-2] for f in found)
        raise TargetError(f"{ref!r} is in several namespaces ({where}): name one with -n or ns/")
    return found[0] if found else ref
