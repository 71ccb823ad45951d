"""``podnet run --shell POD``: a busybox shell inside a running pod, on podnet's stdio.

The shell sees what the pod's containers see: its network namespace (pod IP, routes,
the Service proxy through the node), its hostname and its /etc/resolv.conf and
/etc/hosts, like ``kubectl exec -it POD -- sh``. It reads podnet's real stdin, so it
works interactively on a terminal and non-interactively with commands piped in.

Terminal handling: the shell runs in podnet's process group; an interactive busybox
``ash`` then puts itself in a process group of its own and makes that the terminal's
foreground group (job control), so Ctrl-C and Ctrl-Z reach the shell and not podnet,
and it hands the terminal back when it exits. podnet ignores SIGINT meanwhile, in case
the shell does not take the terminal (no job control): a Ctrl-C at the prompt must
never tear the cluster down under the user. While the shell runs, podnet keeps driving
the runtime (pod output is not streamed, readiness still updates the cluster).
"""

from __future__ import annotations

import os
import signal

from podnet.errors import ClusterError
from podnet.live.cluster import LiveCluster


def resolve_pod_key(cluster: LiveCluster, name: str) -> str:
    """``ns/name`` as given, or ``default/name`` (kubectl's default namespace)."""
    assert cluster.state is not None
    key = name if "/" in name else f"default/{name}"
    pod = cluster.state.pod(key)
    if pod is None or pod.ip is None:
        raise ClusterError(f"no running pod {name!r} (use namespace/name)")
    return key


def run_shell(cluster: LiveCluster, name: str) -> int:
    """Run an interactive shell in pod ``name`` until it exits; its exit code."""
    assert cluster.sandbox is not None and cluster.state is not None and cluster.runtime
    key = resolve_pod_key(cluster, name)
    pod = cluster.state.pod(key)
    assert pod is not None
    image = cluster.runtime.images.resolve("busybox")
    argv = list(image.program("sh") or ("sh",))
    env = {
        **dict(image.env),
        "HOSTNAME": pod.hostname or pod.name,
        "PS1": f"{pod.key} # ",
        "TERM": os.environ.get("TERM", "xterm"),
    }
    # Spawn first: an ignored SIGINT would survive exec into the shell and its children.
    proc = cluster.sandbox.spawn(key, argv, env=env)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster.runtime.run_until(lambda: proc.poll() is not None, float("inf"))
        return proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
