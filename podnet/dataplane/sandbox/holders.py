"""The processes that hold the cluster's namespaces alive, and nothing else.

A namespace lives as long as something refers to it. podnet never bind-mounts one
(``ip netns add`` would, into /run/netns, where a crash leaves it behind); each is held
by a process in the cluster's PID namespace: the cluster init (pid 1, holding the root
netns), one ``sleep infinity`` per node (net + UTS namespaces, ``ip_forward=1``) and one
"pause" per pod (net + UTS + mount: hostname, the pod's /etc files bind-mounted from a
private tmpfs, a fresh /proc), the pod sandbox's pause container.

Only the init has PR_SET_PDEATHSIG (plus a liveness pipe): the signal fires when the
*thread* that spawned the process exits, so a pod started from a short-lived worker
thread would die with it. Holders die with the init instead (pid_namespaces(7): the
init's death SIGKILLs the namespace). Namespaces are created in ``preexec_fn`` with
ctypes, no shell; a failure there is raised as :class:`NotSupportedError`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from podnet.dataplane import netns
from podnet.errors import NotSupportedError

INIT_SCRIPT = Path(__file__).with_name("cluster_init.py")
# A private scratch mount point for the pod's files: any directory that exists; the
# tmpfs is detached again at once, so the pod still sees the host's /tmp after it.
_SCRATCH = "/tmp"


def _sleep_argv() -> list[str]:
    sleep = shutil.which("sleep")
    if sleep is None:
        raise NotSupportedError("sleep (coreutils) is not installed")
    return [sleep, "infinity"]


def _guarded(what: str, fn: Callable[[], None]) -> Callable[[], None]:
    """Wrap a preexec step so its failure is explained on stderr before the child dies."""

    def run() -> None:
        try:
            fn()
        except BaseException as e:
            os.write(2, f"podnet: {what}: {e}\n".encode())
            raise

    return run


def _spawn(
    what: str, argv: list[str], setup: Callable[[], None], **kw: object
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            argv,
            preexec_fn=_guarded(what, setup),
            start_new_session=True,  # Ctrl-C goes to podnet, which tears down in order
            stdin=kw.pop("stdin", subprocess.DEVNULL),
            # not podnet's stdout: a holder must not keep a pipe reader waiting for EOF;
            # stderr stays, for the set-up error message written before exec
            stdout=kw.pop("stdout", subprocess.DEVNULL),
            **kw,
        )
    except (subprocess.SubprocessError, OSError) as e:
        raise NotSupportedError(f"cannot create the {what}: {e}") from e


def spawn_init(liveness_fd: int, scratch: str | None = None) -> subprocess.Popen[bytes]:
    """Start the cluster init; it must be the first child after unshare(CLONE_NEWPID).

    ``liveness_fd`` is the read end of a pipe whose write end only podnet holds: EOF
    means podnet is gone even if it died in the instant before PR_SET_PDEATHSIG was set.
    The death signal is SIGHUP, not SIGKILL, so the init can remove ``scratch`` (the
    cluster's state directory, which no kernel object ties to podnet) before it exits.
    The init's stdout is a pipe to podnet (``proc.stdout``) that the init never writes:
    its EOF tells podnet at once that the init, and so the whole cluster, died.
    """

    def setup() -> None:
        netns.set_pdeathsig(signal.SIGHUP)
        netns.unshare(netns.CLONE_NEWNET)

    argv = [sys.executable, "-I", "-S", str(INIT_SCRIPT), *([scratch] if scratch else [])]
    return _spawn("cluster init", argv, setup, stdin=liveness_fd, stdout=subprocess.PIPE)


def _write_sysctl(path: str, value: str) -> None:
    # /proc/sys/net/* resolves to the netns of the task that opens it.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def spawn_node(hostname: str) -> subprocess.Popen[bytes]:
    """A node: its own netns (IPv4 forwarding on) and UTS namespace (its hostname)."""

    def setup() -> None:
        netns.unshare(netns.CLONE_NEWNET | netns.CLONE_NEWUTS)
        netns.sethostname(hostname)
        _write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")

    return _spawn(f"node {hostname}", _sleep_argv(), setup)


def spawn_pause(hostname: str, files: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """A pod sandbox: new net, UTS and mount namespaces, its files bind-mounted.

    ``files`` maps absolute paths that exist on the host (/etc/hosts, ...) to the
    content the pod must see there. Mount propagation is made private first so
    nothing done here can reach the host's mount table.
    """
    contents = [(path, text.encode()) for path, text in files.items()]

    def setup() -> None:
        netns.unshare(netns.CLONE_NEWNET | netns.CLONE_NEWUTS | netns.CLONE_NEWNS)
        netns.sethostname(hostname)
        netns.mount(None, "/", None, netns.MS_REC | netns.MS_PRIVATE)
        netns.mount("podnet", _SCRATCH, "tmpfs", netns.MS_NOSUID | netns.MS_NODEV, "size=1m")
        for i, (path, raw) in enumerate(contents):
            src = f"{_SCRATCH}/{i}"
            fd = os.open(src, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.write(fd, raw)
            finally:
                os.close(fd)
            netns.mount(src, path, None, netns.MS_BIND)
        netns.umount(_SCRATCH)
        # A /proc for the cluster's PID namespace: a pod does not see host processes.
        netns.mount("proc", "/proc", "proc", netns.MS_NOSUID | netns.MS_NODEV | netns.MS_NOEXEC)

    return _spawn(f"pod sandbox {hostname}", _sleep_argv(), setup)
