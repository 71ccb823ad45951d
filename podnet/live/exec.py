"""``podnet exec``: run a command inside a pod of a running ``podnet run`` or ``podnet up``.

kubectl exec's model: the command runs in the container, as the runtime's ``exec``
does (runc/crun ``exec``: the container's namespaces, root, user, capabilities and
seccomp filter, with the container's environment). podnet enters the pod's sandbox
(network, UTS, IPC, mount and the cluster's PID namespace), where the container's
crun state lives, and runs ``crun exec`` there with a process file made from the
container's own ``config.json``. A cluster run without crun (``PODNET_RUNTIME=process``)
has no container to enter: the command then joins the pod's namespaces directly.
The running cluster is found through :mod:`podnet.live.registry`; podnet then *becomes*
``nsenter`` (exec), so the terminal, signals and the exit code are the command's own.

Rootless clusters live in a user namespace of their own; the command enters it first
(as its owner we may), then the pod's namespaces, which that user namespace owns.
"""

from __future__ import annotations

import json
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


def oci_exec(
    doc: Mapping[str, Any], key: str, container: str | None
) -> tuple[list[str], str, str] | None:
    """``(runtime argv prefix, container id, bundle)`` of the pod's container under crun
    (``container`` or the first), None when the cluster runs plain processes. Pure."""
    oci = doc.get("oci")
    if not oci:
        return None
    running: Mapping[str, Mapping[str, str]] = oci.get("containers", {}).get(key, {})
    if not running:
        raise ClusterError(f"pod {key} has no running container")
    name = container or next(iter(running))
    if name not in running:
        known = ", ".join(running)
        raise ClusterError(f"pod {key} has no running container {name!r} (running: {known})")
    return list(oci["runtime"]), running[name]["id"], running[name]["bundle"]


def oci_exec_argv(
    doc: Mapping[str, Any],
    key: str,
    runtime: Sequence[str],
    cid: str,
    process_file: str,
    nsenter: str,
    *,
    enter_user: bool,
) -> list[str]:
    """``nsenter`` into the pod's sandbox, then ``crun exec --process FILE ID``. Pure."""
    pid = doc["pods"][key]
    ns = [f"--user=/proc/{pid}/ns/user", "--preserve-credentials"] if enter_user else []
    kinds = (("net", "net"), ("uts", "uts"), ("ipc", "ipc"), ("mount", "mnt"), ("pid", "pid"))
    ns += [f"--{opt}=/proc/{pid}/ns/{name}" for opt, name in kinds]
    return [nsenter, *ns, "--wd=/", "--", *runtime, "exec", "--process", process_file, cid]


def write_process(bundle: str, command: Sequence[str], environ: Mapping[str, str]) -> str:
    """The exec's process file beside the container's bundle: the container's process
    (user, capabilities, no-new-privileges, env, cwd) with ``command`` (``sh`` when
    empty) as its args, and the caller's TERM."""
    with open(os.path.join(bundle, "config.json")) as f:
        process = json.load(f)["process"]
    process["args"] = list(command or ["sh"])
    process["terminal"] = False  # stdio (a tty or pipes) passed through as they are
    if "TERM" in environ:
        process["env"] = [e for e in process["env"] if not e.startswith("TERM=")]
        process["env"].append(f"TERM={environ['TERM']}")
    path = os.path.join(bundle, f"exec-podnet-{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump(process, f)
    return path


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
    name: str,
    command: Sequence[str],
    *,
    namespace: str = "default",
    cluster: int | None = None,
    container: str | None = None,
) -> None:
    """Replace this process with ``command`` running in the pod. Returns only on error."""
    doc = find_cluster(cluster)
    key = pod_key(name, namespace)
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise NotSupportedError("nsenter (util-linux) is not installed")
    pid = doc.get("pods", {}).get(key)
    enter_user = pid is not None and in_other_user_ns(pid)
    oci = oci_exec(doc, key, container) if pid is not None else None
    if oci is None:
        argv = exec_argv(doc, key, command, nsenter, enter_user=enter_user)
    else:
        runtime, cid, bundle = oci
        try:
            process = write_process(bundle, command, os.environ)
        except (OSError, ValueError, KeyError) as e:
            raise ClusterError(f"cannot prepare the exec in pod {key}: {e}") from e
        argv = oci_exec_argv(doc, key, runtime, cid, process, nsenter, enter_user=enter_user)
    try:
        os.execve(nsenter, argv, exec_env(doc, key, os.environ))
    except OSError as e:
        raise NotSupportedError(f"cannot run nsenter: {e}") from e
