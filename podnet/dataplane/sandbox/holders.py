"""The processes that hold the cluster's namespaces alive, and nothing else.

A namespace lives as long as something refers to it. podnet never bind-mounts one
(``ip netns add`` would, into /run/netns, where a crash leaves it behind); each is held
by a process in the cluster's PID namespace: the cluster init (pid 1, holding the root
netns), one ``sleep infinity`` per node (net + UTS namespaces, ``ip_forward=1``) and one
"pause" per pod (net + UTS + IPC + mount: hostname, the pod's /etc files bind-mounted
from a private tmpfs, a fresh /proc, crun's mounts for its containers), the pod
sandbox's pause container. Pauses are forked by a small server (:mod:`.pause_server`),
not by podnet: see :class:`PauseServer`.

Only the init has PR_SET_PDEATHSIG (plus a liveness pipe): the signal fires when the
*thread* that spawned the process exits, so a pod started from a short-lived worker
thread would die with it. Holders die with the init instead (pid_namespaces(7): the
init's death SIGKILLs the namespace). Namespaces are created in ``preexec_fn`` (in the
server's child for a pause) with ctypes, no shell; a failure there is raised as
:class:`NotSupportedError`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from podnet.dataplane import netns
from podnet.dataplane.sandbox.wiring import is_static_elf
from podnet.errors import NotSupportedError, PodnetError

INIT_SCRIPT = Path(__file__).with_name("cluster_init.py")
PAUSE_SERVER = Path(__file__).with_name("pause_server.py")
SPAWN_BATCH = 32  # spawn requests written to the pause server before reading its answers


def _sleep_argv() -> list[str]:
    sleep = shutil.which("sleep")
    if sleep is None:
        raise NotSupportedError("sleep (coreutils) is not installed")
    return [sleep, "infinity"]


@functools.cache
def pause_argv() -> tuple[str, ...]:
    """A pause's program: busybox's ``sleep infinity`` where busybox is a static binary
    with that applet (Debian's busybox-static), else coreutils' ``sleep``. One is
    exec'd per pod; static, no dynamic loader runs: ``perf stat -r 200`` of ``sleep 0``
    0.34 ms of CPU against 0.64 ms for coreutils' (bench/README.md)."""
    busybox = shutil.which("busybox")
    if busybox is not None and is_static_elf(busybox):
        try:
            ok = (
                subprocess.run(
                    [busybox, "sleep", "0"], capture_output=True, timeout=10, check=False
                ).returncode
                == 0
            )
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return (busybox, "sleep", "infinity")
    return tuple(_sleep_argv())


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


class Holder:
    """A pod's pause, a child of the :class:`PauseServer`: what Popen offers for one.

    Its pid stays allocated (alive or a zombie) until :meth:`wait`, which asks the
    server to reap it, as for a Popen child of podnet.
    """

    def __init__(self, server: PauseServer, pid: int, nspid: int, pidns: int | None = None) -> None:
        self.pid = pid
        self._nspid = nspid
        # shareProcessNamespace: the pid (in the cluster's PID namespace) of the pod's
        # PID namespace's init, a child of the pause; None when containers get their own
        self.pidns = pidns
        self._server = server
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                with open(f"/proc/{self.pid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):  # reaped by the init: gone
                state = b"X"
            if state in (b"Z", b"X"):
                self.wait()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # the server died, init reaped it
                os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self._server.reap(self._nspid)
        return self.returncode


class PauseServer:
    """Client of :mod:`.pause_server`, started once per cluster in its PID namespace.

    Creating a pod sandbox by forking podnet (hundreds of MB) and running set-up code
    in the child cost more than the namespaces themselves; the server is a small
    Python process that sets up each pod's namespaces itself and starts its pause into
    them (:mod:`.pause_server`). Thread-safe.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        self._stdin, self._stdout = proc.stdin, proc.stdout
        self._lock = threading.Lock()

    @classmethod
    def start(cls) -> PauseServer:
        """Run on the spawner thread: the server must live in the cluster PID namespace."""
        argv = [sys.executable, "-I", "-S", str(PAUSE_SERVER), *pause_argv()]
        return cls(
            _spawn(
                "pod sandbox server",
                argv,
                lambda: None,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        )

    def _send(self, reqs: Sequence[dict[str, Any]]) -> None:
        self._stdin.write(b"".join(json.dumps(r).encode() + b"\n" for r in reqs))
        self._stdin.flush()

    def _read(self) -> dict[str, Any]:
        line = self._stdout.readline()
        if not line:
            raise NotSupportedError("the pod sandbox server died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def spawn(
        self,
        pods: Sequence[tuple[str, Mapping[str, str]]],
        share_pid: Sequence[bool] = (),
        *,
        cgroups_ro: bool = True,
        ro_binds: Sequence[tuple[str, str]] = (),
    ) -> list[Holder | PodnetError]:
        """Pause holders for ``(hostname, files)`` pairs.

        ``files`` maps absolute paths that exist on the host (/etc/hosts, ...) to the
        content the pod must see there; ``share_pid[i]`` gives pod i a PID namespace
        for its containers to share; ``cgroups_ro``: remount the cgroup hierarchies
        read-only in the pod (for runc, :mod:`.pause_server`); ``ro_binds``: (source,
        target) files bound read-only in the pod. Returns a holder or the error, in
        order.
        """
        shared = list(share_pid) + [False] * (len(pods) - len(share_pid))
        out: list[Holder | PodnetError] = []
        reqs = [
            {
                "op": "spawn",
                "id": i,
                "hostname": h,
                "files": [*files.items()],
                "share_pid": shared[i],
                "cgroups_ro": cgroups_ro,
                "ro_binds": [list(b) for b in ro_binds],
            }
            for i, (h, files) in enumerate(pods)
        ]
        with self._lock:
            replies: list[dict[str, Any]] = []
            try:
                # a bounded batch at a time: the server answers most requests itself as
                # it reads them, and a thousand requests written at once would fill its
                # stdin while its answers fill its stdout, each side waiting for the other
                for i in range(0, len(reqs), SPAWN_BATCH):
                    batch = reqs[i : i + SPAWN_BATCH]
                    self._send(batch)
                    replies += [self._read() for _ in batch]
            except (OSError, ValueError) as e:
                raise NotSupportedError(f"the pod sandbox server failed: {e}") from e
            failed = []
            for r in sorted(replies, key=lambda r: int(r["id"])):
                if "error" in r:
                    if "nspid" in r:  # a forked child that failed: reaped below
                        failed.append(int(r["nspid"]))
                    what = f"pod sandbox {pods[int(r['id'])][0]}"
                    out.append(NotSupportedError(f"cannot create the {what}: {r['error']}"))
                else:
                    pidns = int(r["pidns"]) if "pidns" in r else None
                    out.append(Holder(self, int(r["pid"]), int(r["nspid"]), pidns))
        for nspid in failed:
            self.reap(nspid)
        return out

    def reap(self, nspid: int) -> int:
        """Wait for a dead (or killed) child of the server; its returncode."""
        with self._lock:
            try:
                self._send([{"op": "reap", "nspid": nspid}])
                reply = self._read()
            except (OSError, ValueError) as e:
                raise NotSupportedError(f"the pod sandbox server failed: {e}") from e
            assert reply.get("reaped") == nspid, reply
            return int(reply["code"])

    def close(self) -> None:
        """End the server (its holders live on until the cluster init dies)."""
        with contextlib.suppress(OSError):
            self._stdin.close()
        self._stdout.close()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
