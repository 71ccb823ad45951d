"""``podnet exec [-n NS] [-c C] [-i] [-t] [--cluster PID] (POD | TYPE/NAME) [-- CMD ARGS...]``
(kubectl exec), in a pod of a ``podnet run`` or a ``podnet up`` (both announce
themselves, podnet.live.registry).

As kubectl's (staging/src/k8s.io/kubectl/pkg/cmd/exec/exec.go): podnet's flags may come
before or after POD, everything after ``--`` is the command (main.py splits there for
verbs that set ``dashdash``), and ``exec POD CMD`` without ``--`` is refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from podnet.errors import ClusterError

# kubectl's short names and plurals (kubectl api-resources), as podnet explain takes them.
POD_KINDS = frozenset({"po", "pod", "pods"})
WORKLOAD_KINDS = {
    **dict.fromkeys(("deploy", "deployment", "deployments"), "Deployment"),
    **dict.fromkeys(("sts", "statefulset", "statefulsets"), "StatefulSet"),
    **dict.fromkeys(("ds", "daemonset", "daemonsets"), "DaemonSet"),
    **dict.fromkeys(("rs", "replicaset", "replicasets"), "ReplicaSet"),
    **dict.fromkeys(
        ("rc", "replicationcontroller", "replicationcontrollers"), "ReplicationController"
    ),
    **dict.fromkeys(("job", "jobs"), "Job"),
}
SERVICE_KINDS = frozenset({"svc", "service", "services"})


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "exec",
        help="run a command in a pod of a running podnet run or podnet up (default: sh)",
        usage="podnet exec [options] (POD | TYPE/NAME) [-- CMD ARGS...]",
        description=(
            "Run CMD inside POD of the cluster a `podnet run` or `podnet up` of this user "
            "is running: the pod's network, hostname, /etc files and processes, like "
            "kubectl exec. POD is NAME, NAMESPACE/NAME, pod/NAME, or a workload "
            "(deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME: its first pod by name). "
            "Options go before or after POD; the command goes after --. Standard input, "
            "output, the terminal and the exit code are the command's own (podnet "
            "becomes the command), so -i and -t are implied: `podnet exec -it web -- sh`."
        ),
    )
    p.add_argument("-n", "--namespace", default="default", help="the pod's namespace")
    p.add_argument(
        "-c",
        "--container",
        help="the container to run CMD in (default: the pod's first)",
    )
    p.add_argument("-i", "--stdin", action="store_true", help="kubectl's; always so here")
    p.add_argument("-t", "--tty", action="store_true", help="kubectl's; always so here")
    p.add_argument(
        "--cluster",
        type=int,
        metavar="PID",
        help="the podnet run or podnet up process, if several run",
    )
    p.add_argument("pod", metavar="POD", help="pod name, NAMESPACE/NAME or TYPE/NAME")
    p.set_defaults(func=_exec, dashdash="command", dashdash_error=dashdash_error, parser=p)


def dashdash_error(extra: list[str]) -> str:
    """kubectl's words for ``exec POD CMD`` (exec.go, Complete)."""
    return (
        f"unexpected {' '.join(extra)!r} before --: exec [POD] [COMMAND] is not supported; "
        "use exec [POD] -- [COMMAND] instead"
    )


def parse_target(spec: str, namespace: str) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of an exec target; kind "" for a pod. Pure.

    ``name``, ``ns/name``, ``pod/name``, ``pod/ns/name``, ``deploy/name``,
    ``ns/deploy/name``, ``deploy/ns/name`` (podnet explain's forms, and more). A kind
    wins over a namespace of the same name, as in kubectl's TYPE/NAME."""
    parts = spec.split("/")
    if any(not part for part in parts) or len(parts) > 3:
        raise ClusterError(f"bad pod {spec!r}: want NAME, NAMESPACE/NAME or TYPE/NAME")
    if len(parts) == 1:
        return "", namespace, parts[0]
    if len(parts) == 2:
        kind, ns = parts[0].lower(), namespace
    elif _kind(parts[0]):  # pod/ns/name
        kind, ns = parts[0].lower(), parts[1]
    else:  # ns/deploy/name
        kind, ns = parts[1].lower(), parts[0]
    if kind in POD_KINDS:
        return "", ns, parts[-1]
    if kind in WORKLOAD_KINDS:
        return WORKLOAD_KINDS[kind], ns, parts[-1]
    if kind in SERVICE_KINDS:
        raise ClusterError(
            f"{spec}: exec into a Service's pod is not supported here; name the pod or "
            "its workload (deploy/NAME)"
        )
    if len(parts) == 2:
        return "", parts[0], parts[1]  # podnet's NAMESPACE/NAME
    raise ClusterError(f"{spec}: unknown resource type {parts[1]!r} (want pod, deploy, sts, ...)")


def _kind(word: str) -> bool:
    w = word.lower()
    return w in POD_KINDS or w in WORKLOAD_KINDS or w in SERVICE_KINDS


def workload_pod(
    kind: str, namespace: str, name: str, pods: Mapping[str, object], owners: Mapping[str, str]
) -> str:
    """The pod key kubectl exec would enter for a workload: one of its pods (kubectl's
    AttachablePodForObject picks one; here the first by name, as podnet explain). A
    Deployment's pods are owned by its ReplicaSets, named NAME-<hash>. Pure."""
    want = f"{kind}/{name}"

    def owned(key: str) -> bool:
        owner = owners.get(key, "")
        if owner == want:
            return True
        return kind == "Deployment" and owner.startswith(f"ReplicaSet/{name}-")

    keys = sorted(k for k in pods if k.startswith(f"{namespace}/") and owned(k))
    if not keys:
        raise ClusterError(f"no pods of {kind.lower()}/{name} in namespace {namespace}")
    return keys[0]


def _exec(args: argparse.Namespace) -> int:
    from podnet.live.exec import exec_in_pod, find_cluster  # here: keep start-up light

    if args.tty and not sys.stdin.isatty() and not args.quiet:
        # kubectl's warning (kubectl/pkg/cmd/exec/exec.go via term.TTY.Safe's check)
        print(
            "Unable to use a TTY - input is not a terminal or the right kind of file",
            file=sys.stderr,
        )
    kind, namespace, name = parse_target(args.pod, args.namespace)
    key = f"{namespace}/{name}"
    cluster = args.cluster
    if kind:
        doc = find_cluster(cluster)
        owners = doc.get("owners")
        if owners is None:
            raise ClusterError(
                f"{args.pod}: the running cluster does not say which workload owns its pods; "
                "name the pod"
            )
        key = workload_pod(kind, namespace, name, doc.get("pods", {}), owners)
        cluster = doc.get("pid", cluster)  # the cluster just read, if several start
    exec_in_pod(
        key, list(args.command), namespace=namespace, cluster=cluster, container=args.container
    )
    return 1  # not reached: exec_in_pod replaces this process or raises
