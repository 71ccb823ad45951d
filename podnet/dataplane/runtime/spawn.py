"""The runtime's one seam for starting processes, and stopping them by process group.

The sandbox (:mod:`podnet.dataplane.sandbox.namespaces`) provides the real spawner, which starts a
process inside a pod's namespaces; :func:`host_spawner` starts it directly on this host
and is what the runtime's tests use (loopback only). Both must start the process as the
leader of a new session (``start_new_session=True``) so :func:`signal_tree` can signal the
whole container - the process and everything it forked - by its process group, and
nothing else: podnet never kills by name (STYLE.md principle 10).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Sequence
from typing import IO, Any, Protocol

Stream = int | IO[bytes] | None


class Spawner(Protocol):
    def __call__(
        self,
        pod_key: str,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        stdout: Stream,
        stderr: Stream,
        stdin: Stream = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]: ...


def host_spawner(
    pod_key: str,
    argv: list[str],
    env: dict[str, str],
    cwd: str | None,
    stdout: Stream,
    stderr: Stream,
    stdin: Stream = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` on the host, in a new session, stdin closed unless given."""
    del pod_key  # every "pod" shares the host's namespaces
    return subprocess.Popen(argv, cwd=cwd, **_container_io(env, stdout, stderr, stdin))


def _container_io(
    env: dict[str, str], stdout: Stream, stderr: Stream, stdin: Stream
) -> dict[str, Any]:
    """What every container process gets: its env, no stdin (a pipe for a container
    with ``stdin: true``), its log pipes, and a session of its own (so
    :func:`signal_tree` can signal exactly its process group)."""
    return {
        "env": env,
        "stdin": stdin,
        "stdout": stdout,
        "stderr": stderr,
        "start_new_session": True,
    }


class SandboxLike(Protocol):
    def spawn(
        self, pod_key: str, argv: Sequence[str], *, cwd: str | None = None, **popen: Any
    ) -> subprocess.Popen[bytes]: ...


def sandbox_spawner(sandbox: SandboxLike) -> Spawner:
    """The spawner of a live cluster: :meth:`podnet.dataplane.sandbox.namespaces.Sandbox.spawn`.

    The sandbox enters the pod's net, UTS and mount namespaces (``nsenter`` execs, so
    the pid is the container's); a new session makes it the leader of its own group.
    """

    def spawn(
        pod_key: str,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        stdout: Stream,
        stderr: Stream,
        stdin: Stream = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        return sandbox.spawn(pod_key, argv, cwd=cwd, **_container_io(env, stdout, stderr, stdin))

    return spawn


def signal_tree(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to the process group ``proc`` leads, or to ``proc`` alone.

    The group is only used when ``proc`` really leads it: a spawner that forgot
    ``start_new_session`` must not make podnet signal its own group.
    """
    if proc.poll() is not None:
        # The leader is reaped, its group may live on (orphans of a shell). The kernel
        # keeps a pid allocated while a group still uses it as pgid, so this reaches
        # that group or nothing.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def exit_code(returncode: int) -> int:
    """Popen's ``-N`` for a signal becomes 128+N, as container runtimes report it."""
    return 128 - returncode if returncode < 0 else returncode
