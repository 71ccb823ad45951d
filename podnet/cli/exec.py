"""``podnet exec [-n NS] [-c C] [-i] [-t] [--cluster PID | --kubeconfig F --context C]
(POD | TYPE/NAME) [-- CMD ARGS...]`` (kubectl exec), in a pod of a ``podnet run``, a
``podnet up``, or any cluster a kubeconfig names.

As kubectl's (staging/src/k8s.io/kubectl/pkg/cmd/exec/exec.go): podnet's flags may come
before or after POD, everything after ``--`` is the command (main.py splits there for
verbs that set ``dashdash``), and ``exec POD CMD`` without ``--`` is refused. The pod is
read first (its containers: ``-c``, else the ``kubectl.kubernetes.io/default-container``
annotation, else the first; a finished pod is refused), then the exec subresource runs
over WebSocket (:func:`podnet.kube.wsexec.interactive`): stdin with ``-i``, a terminal
with ``-t`` (the local one in raw mode, its size sent at the start and on SIGWINCH),
the command's exit code as podnet's.

Where, as kubectl decides it (its kubeconfig rules, plus podnet's own clusters):
``--kubeconfig``/``--context`` name an API server; else ``--cluster PID`` a ``podnet
run`` or ``podnet up`` of this user; else the one running ``podnet run``; else the
kubeconfig's current context (``podnet up`` makes its own current). Both kinds of
target run the same server-side exec (:mod:`podnet.live.exec`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import signal
import struct
import sys
import termios
import tty as ttymod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
TTY_WARNING = "Unable to use a TTY - input is not a terminal or the right kind of file"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "exec",
        help="run a command in a pod, as kubectl exec (default: sh)",
        usage="podnet exec [options] (POD | TYPE/NAME) [-- CMD ARGS...]",
        description=(
            "Run CMD inside POD, like kubectl exec: in the container (its root, user, "
            "network, hostname and processes), -i passing standard input, -t a terminal, "
            "the exit code the command's. POD is NAME, NAMESPACE/NAME, pod/NAME, or a "
            "workload (deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME: its first pod "
            "by name). Options go before or after POD; the command goes after --; "
            "without one, sh runs with -i and -t. "
            "Which cluster, as kubectl decides: --kubeconfig/--context name one (through "
            "its API server); else --cluster PID (a podnet run or podnet up of yours); "
            "else the running podnet run; else the kubeconfig's current context (podnet "
            "up makes its own current)."
        ),
    )
    p.add_argument(
        "-n", "--namespace", help="the pod's namespace (default: the context's, or default)"
    )
    p.add_argument(
        "-c",
        "--container",
        help="the container to run CMD in (default: the pod's default-container "
        "annotation, else its first)",
    )
    p.add_argument("-i", "--stdin", action="store_true", help="pass standard input")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a terminal (with -i)")
    p.add_argument(
        "--cluster",
        type=int,
        metavar="PID",
        help="the podnet run or podnet up process, if several run",
    )
    p.add_argument("--kubeconfig", help="a kubeconfig file: exec through its API server")
    p.add_argument("--context", help="the kubeconfig context to use")
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


class ServerError(ClusterError):
    """The server refused (a Status): printed in kubectl's words, exit code 1."""


@dataclass(frozen=True)
class Target:
    """Where the exec goes: a local endpoint (``socket``) or an API server."""

    base: str  # http(s)://host:port[/prefix], or http://localhost for a socket
    socket: str | None = None  # an abstract unix socket name (podnet run/up)
    pid: int | None = None  # the local cluster's pid (its description: workload owners)
    ctx: Any = None  # ssl.SSLContext for an API server
    headers: Mapping[str, str] | None = None
    server_name: str | None = None
    namespace: str = "default"  # the context's


def choose(args: argparse.Namespace) -> Target:
    """kubectl's choice, plus podnet's clusters (see the module docstring)."""
    from podnet.live.exec import choose_endpoint

    if args.kubeconfig or args.context:
        return _api(args.kubeconfig, args.context)
    if args.cluster is not None:
        pid, name = choose_endpoint(args.cluster)
        return Target("http://localhost", socket=name, pid=pid)
    with contextlib.suppress(ClusterError):
        pid, name = choose_endpoint(None)
        return Target("http://localhost", socket=name, pid=pid)
    return _api(None, None, fallback="no podnet run is running, and ")


def _api(kubeconfig: str | None, context: str | None, fallback: str = "") -> Target:
    from podnet.kube.client import Client
    from podnet.kube.config import load_config
    from podnet.kube.errors import KubeError

    try:
        cfg = load_config(kubeconfig, context)
        with Client(cfg) as client:
            base, ctx, headers = client.stream_params()
    except KubeError as e:
        raise ClusterError(f"{fallback}{e}") from None
    return Target(
        base, ctx=ctx, headers=headers, server_name=cfg.tls_server_name, namespace=cfg.namespace
    )


def _exec(args: argparse.Namespace) -> int:
    command = list(args.command)
    stdin, use_tty = args.stdin, args.tty
    if not command:  # podnet's own default: a shell on this terminal
        command, stdin, use_tty = ["sh"], True, True
    if use_tty and not stdin:
        use_tty = False  # kubectl: -t needs -i (StreamOptions.SetupTTY)
    elif use_tty and not sys.stdin.isatty():
        use_tty = False
        if not args.quiet and args.tty:
            print(TTY_WARNING, file=sys.stderr)  # kubectl's words
    target = choose(args)
    namespace = args.namespace or target.namespace
    kind, namespace, name = parse_target(args.pod, namespace)
    try:
        return asyncio.run(
            _session(target, kind, namespace, name, args.container, command, stdin, use_tty)
        )
    except ServerError as e:
        print(e, file=sys.stderr)
        return 1


async def _session(
    target: Target,
    kind: str,
    namespace: str,
    name: str,
    container: str | None,
    command: list[str],
    stdin: bool,
    use_tty: bool,
) -> int:
    import aiohttp

    from podnet.kube import wsexec

    connector = None if target.socket is None else aiohttp.UnixConnector(path=target.socket)
    async with aiohttp.ClientSession(connector=connector) as session:
        if kind:
            name = await _workload_pod(session, target, kind, namespace, name)
        pod = await _get(session, target, f"/api/v1/namespaces/{namespace}/pods/{name}")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise ClusterError(
                f"cannot exec into a container in a completed pod; current phase is {phase}"
            )
        cname = _container(pod, container)
        path = wsexec.exec_path(namespace, name, cname, command, stdin=stdin, tty=use_tty)
        loop = asyncio.get_running_loop()
        with _raw(use_tty):
            winch = False

            def started(sess: wsexec.Session) -> None:
                nonlocal winch
                loop.add_signal_handler(signal.SIGWINCH, sess.resize)
                winch = True

            try:
                code, message = await wsexec.interactive(
                    session,
                    target.base + path,
                    headers=target.headers or {},
                    ctx=target.ctx,
                    server_name=target.server_name,
                    stdin=sys.stdin.fileno() if stdin else None,
                    stdout=sys.stdout.fileno(),
                    stderr=sys.stderr.fileno(),
                    size=_size if use_tty else None,
                    started=started if use_tty else None,
                    where=f"pods/exec {namespace}/{name}",
                )
            finally:
                if winch:
                    loop.remove_signal_handler(signal.SIGWINCH)
    if code < 0:
        raise ClusterError(message)
    if code > 0:
        print(f"command terminated with exit code {code}", file=sys.stderr)  # kubectl's
    return code


async def _get(session: Any, target: Target, path: str) -> dict[str, Any]:
    """One GET, an API error as kubectl prints it."""
    async with session.get(
        target.base + path,
        headers=target.headers or {},
        ssl=target.ctx if target.ctx is not None else True,
        server_hostname=target.server_name,
    ) as resp:
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            body = {}
        if resp.status >= 400:
            reason = body.get("reason") or resp.reason
            message = body.get("message") or f"HTTP {resp.status}"
            raise ServerError(f"Error from server ({reason}): {message}")
        doc: dict[str, Any] = body
        return doc


def _container(pod: Mapping[str, Any], wanted: str | None) -> str:
    """kubectl's container (podcmd.FindOrDefaultContainerByName): the one named (an
    init or app container), else the annotation's, else the first, the others named
    on stderr."""
    spec = pod.get("spec") or {}
    names = [str(c.get("name", "")) for c in spec.get("containers") or []]
    if wanted is not None:
        inits = [str(c.get("name", "")) for c in spec.get("initContainers") or []]
        if wanted not in names + inits:
            name = (pod.get("metadata") or {}).get("name")
            raise ClusterError(f"container {wanted} not found in pod {name}")
        return wanted
    annotated = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    if annotated in names:
        return str(annotated)
    if not names:
        raise ClusterError("the pod has no containers")
    if len(names) > 1:
        print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
    return names[0]


async def _workload_pod(session: Any, target: Target, kind: str, namespace: str, name: str) -> str:
    """A workload's pod, as :func:`workload_pod` picks it, from the cluster's pods and
    their owners (the local description, or the API's pod list)."""
    if target.pid is not None:
        from podnet.live.registry import describe_cluster

        doc = describe_cluster(target.pid)
        owners = doc.get("owners")
        if owners is None:
            raise ClusterError(
                f"{kind.lower()}/{name}: the running cluster does not say which workload "
                "owns its pods; name the pod"
            )
        pods: Mapping[str, object] = doc.get("pods", {})
    else:
        listing = await _get(session, target, f"/api/v1/namespaces/{namespace}/pods")
        pods, owners = {}, {}
        for item in listing.get("items") or []:
            meta = item.get("metadata") or {}
            key = f"{namespace}/{meta.get('name')}"
            pods[key] = item
            for ref in meta.get("ownerReferences") or []:
                if ref.get("controller"):
                    owners[key] = f"{ref.get('kind')}/{ref.get('name')}"
    return workload_pod(kind, namespace, name, pods, owners).split("/", 1)[1]


def _size() -> tuple[int, int] | None:
    try:
        rows, cols, _, _ = struct.unpack(
            "HHHH", fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        )
    except OSError:
        return None
    return (cols, rows) if rows and cols else None


@contextlib.contextmanager
def _raw(on: bool) -> Iterator[None]:
    """The local terminal in raw mode for the session (kubectl's term.MakeRaw): every
    key, Ctrl-C and Ctrl-D too, goes to the pod's terminal; restored after."""
    if not on:
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    ttymod.setraw(fd, termios.TCSANOW)  # as kubectl (TCSETS): keep what was typed ahead
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
