"""``podnet exec``: run a command inside a pod of a running ``podnet run`` or ``podnet up``.

kubectl exec's model: the command joins the pod's namespaces (network, UTS, mount and
the cluster's PID namespace), so it sees the pod IP, routes, hostname, resolv.conf and
the pod's processes, and reaches Services and DNS exactly as the pod's containers do.
The running cluster is found through :mod:`podnet.live.registry`; podnet then *becomes*
``nsenter`` (exec), so the terminal, signals and the exit code are the command's own.

Rootless clusters live in a user namespace of their own; the command enters it first
(as its owner we may), then the pod's namespaces, which that user namespace owns.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from podnet.errors import ClusterError, NotSupportedError
from podnet.live.registry import describe_cluster, running_clusters

# nsenter option -> /proc/<pid>/ns entry; the cluster's PID namespace too, so the
# command sees the pod's processes (nsenter forks for --pid).
_NAMESPACES = (("net", "net"), ("uts", "uts"), ("mount", "mnt"), ("pid", "pid"))


def find_cluster(pid: int | None = None) -> dict[str, Any]:
    """The description of the one running cluster of this user (or of ``pid``)."""
    pids = running_clusters()
    if pid is not None:
        if pid not in pids:
            raise ClusterError(f"no podnet run with pid {pid} (running: {pids or 'none'})")
        return describe_cluster(pid)
    if not pids:
        raise ClusterError("no cluster is running: start one with podnet run or podnet up")
    if len(pids) > 1:
        raise ClusterError(f"several clusters are running ({pids}); choose one with --cluster")
    return describe_cluster(pids[0])


def pod_key(name: str, namespace: str) -> str:
    return name if "/" in name else f"{namespace}/{name}"


def exec_argv(
    doc: Mapping[str, Any], key: str, command: Sequence[str], nsenter: str, *, enter_user: bool
) -> list[str]:
    """The ``nsenter`` argv that runs ``command`` in pod ``key`` of cluster ``doc``. Pure."""
    pods: Mapping[str, int] = doc.get("pods", {})
    if key not in pods:
        known = ", ".join(sorted(pods)) or "none"
        raise ClusterError(f"no pod {key} in the running cluster (pods: {known})")
    pid = pods[key]
    # --preserve-credentials: a rootless cluster's user namespace denies setgroups(2)
    # (required for an unprivileged gid_map), which nsenter would otherwise call.
    ns = [f"--user=/proc/{pid}/ns/user", "--preserve-credentials"] if enter_user else []
    ns += [f"--{opt}=/proc/{pid}/ns/{name}" for opt, name in _NAMESPACES]
    return [nsenter, *ns, "--wd=/", "--", *(command or ["sh"])]


def exec_env(doc: Mapping[str, Any], key: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The command's environment: the busybox image's PATH, the pod's HOSTNAME."""
    env = {"PATH": str(doc.get("path") or "/usr/sbin:/usr/bin:/sbin:/bin")}
    env["HOSTNAME"] = str(doc.get("hostnames", {}).get(key, key.split("/", 1)[1]))
    if "TERM" in environ:
        env["TERM"] = environ["TERM"]
    return env


def in_other_user_ns(pid: int) -> bool:
    """Whether ``pid`` lives in another user namespace than we do (a rootless cluster)."""
    try:
        return os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino
    except OSError as e:
        raise ClusterError(f"cannot inspect pod sandbox {pid}: {e}") from e


def exec_in_pod(
    name: str, command: Sequence[str], *, namespace: str = "default", cluster: int | None = None
) -> None:
    """Replace this process with ``command`` running in the pod. Returns only on error."""
    doc = find_cluster(cluster)
    key = pod_key(name, namespace)
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise NotSupportedError("nsenter (util-linux) is not installed")
    pid = doc.get("pods", {}).get(key)
    argv = exec_argv(
        doc, key, command, nsenter, enter_user=pid is not None and in_other_user_ns(pid)
    )
    try:
        os.execve(nsenter, argv, exec_env(doc, key, os.environ))
    except OSError as e:
        raise NotSupportedError(f"cannot run nsenter: {e}") from e
