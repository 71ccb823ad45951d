"""Spawn server for pod sandboxes ("pause" holders). Standalone: stdlib only, run with -I -S.

Forking podnet itself per pod is what made sandboxes dear: the child copies the page
tables of a process of a few hundred MB and runs Python set-up code that touches (and
so copies) its pages. This process is small, started once per cluster inside the
cluster's PID namespace, and starts each holder from there, so the holders still die
with the cluster init. argv: the holder's program (``sleep infinity``).

A pod's namespaces are made and set up by this process itself, which then starts the
holder into them with posix_spawn and enters its own namespaces again: no fork of
this interpreter per pod (:func:`_spawn_here`). A pod that shares its PID namespace
(``share_pid``), or a kernel whose pidfds do not tell a pid (before 5.3), still gets a
forked child that sets itself up and execs (:func:`_child`).

Requests on stdin and replies on stdout are JSON lines:

- ``{"op": "spawn", "id": n, "hostname": h, "files": [[path, text], ...]}``: a child
  with new net, UTS, IPC and mount namespaces (hostname set, the files bind-mounted from a
  private tmpfs, a fresh /proc) replies ``{"id": n, "pid": host pid, "nspid": pid
  here}`` or ``{"id": n, "error": why}`` (with ``"nspid"`` when a forked child failed:
  reap it) and execs the holder program.
  With ``"share_pid": true`` it also makes a PID namespace for the pod's containers,
  held by a child that is its pid 1 (``"pidns"``: that child's pid here). With
  ``"cgroups_ro": false`` the cgroup hierarchies are left as they are (crun, which
  makes no cgroup: see ``_cgroups_read_only``). ``"ro_binds": [[src, dst], ...]``
  bind-mounts each ``src`` read-only over ``dst`` in the pod's mount namespace.
  Forked children reply themselves (one write below PIPE_BUF is atomic), the others
  are answered in order; replies carry the request's id.
- ``{"op": "reap", "nspid": p}``: wait for that child, reply ``{"reaped": p, "code": c}``
  (as Popen.returncode). Nothing is reaped unasked: a holder's pid stays allocated
  until podnet says so, so a pid podnet holds never names someone else.

EOF on stdin ends this process; the holders live on until the cluster init dies.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
# crun refuses hybrid cgroup hierarchies ("cgroups in hybrid mode not supported, drop
# all controllers from cgroupv2"); hidden in the pod's mount namespace it sees plain v1.
CGROUP_UNIFIED = "/sys/fs/cgroup/unified"
# A private scratch mount point for the pod's files: any directory that exists; the
# tmpfs is detached again at once, so the pod still sees the host's /tmp after it.
SCRATCH = "/tmp"

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    rc = libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3])
    _check(rc, f"mount {source or ''} {target} ({fstype or 'bind'})")


def _hide_unified() -> None:
    """Detach /sys/fs/cgroup/unified; in a user namespace (rootless) that mount is
    locked to its parent (EINVAL), so cover it with an empty read-only tmpfs instead."""
    if libc.umount2(CGROUP_UNIFIED.encode(), MNT_DETACH) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"umount {CGROUP_UNIFIED}")
    _mount(
        "podnet", CGROUP_UNIFIED, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k"
    )


MS_REMOUNT = 0x20
CGROUP_ROOT = "/sys/fs/cgroup"


def _cgroups_read_only() -> None:
    """Remount the cgroup hierarchies read-only in the pod's mount namespace, where the
    OCI runtime runs: crun makes no cgroups (``--cgroup-manager=disabled``), and runc,
    which has no such option, then cannot make any either; with ``--rootless=true`` it
    skips a cgroup it cannot create (EROFS) when no cgroupsPath is set (runc
    libcontainer/cgroups/fs/fs.go ``Apply``, ``isIgnorableError``), so nothing outlives
    a SIGKILLed podnet. Best effort: a user namespace's cgroups are not writable anyway."""
    with open("/proc/self/mountinfo") as f:
        points = [ln.split()[4] for ln in f if " - cgroup" in ln]
    for point in points:
        if point == CGROUP_ROOT or point.startswith(CGROUP_ROOT + "/"):  # v2 or v1
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            libc.mount(None, point.encode(), None, ctypes.c_ulong(flags), None)


def _set_up(
    hostname: str,
    files: list[list[str]],
    cgroups_ro: bool = True,
    ro_binds: list[list[str]] | None = None,
) -> None:
    """What podnet's preexec_fn did: the pod's namespaces, hostname, files and /proc.

    The IPC namespace is the pod's, which its containers share (as the pause's in CRI).
    """
    _check(libc.unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    raw = hostname.encode()
    _check(libc.sethostname(raw, len(raw)), "sethostname")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host
    if os.path.ismount(CGROUP_UNIFIED):
        _hide_unified()
    if cgroups_ro:
        _cgroups_read_only()
    _mount("podnet", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
    for i, (path, text) in enumerate(files):
        src = f"{SCRATCH}/{i}"
        fd = os.open(src, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        _mount(src, path, None, MS_BIND)
    _check(libc.umount2(SCRATCH.encode(), MNT_DETACH), f"umount {SCRATCH}")
    # read-only binds (the OCI runtime's binary, run from there): a bind is remounted
    # read-only on its own, the file it shows stays writable elsewhere
    for src, dst in ro_binds or []:
        _mount(src, dst, None, MS_BIND)
        _mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # A /proc for the cluster's PID namespace: a pod does not see host processes.
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _pid_init() -> None:
    """pid 1 of a pod's own PID namespace (shareProcessNamespace), as the pause
    container is in Kubernetes: it holds the namespace and reaps orphans. Never returns."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    # SIGCHLD blocked and waited for: none is lost between a wait and the next sleep
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        signal.sigtimedwait({signal.SIGCHLD}, 60)


def _share_pid(reply: dict[str, Any]) -> None:
    """A PID namespace for the pod's containers to share, held by a child of the pause;
    its pid in the cluster's namespace (where crun runs) goes in ``pidns``."""
    _check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        try:
            _pid_init()
        finally:
            os._exit(0)
    reply["pidns"] = pid


def _child(req: dict[str, Any], argv: list[str]) -> None:
    """Runs in the forked child; never returns."""
    reply: dict[str, Any] = {"id": req["id"], "nspid": os.getpid()}
    try:
        os.setsid()  # as Popen(start_new_session=True): Ctrl-C goes to podnet only
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # as Popen(restore_signals=True)
            signal.signal(sig, signal.SIG_DFL)
        # /proc is still the one podnet sees: this is our pid as podnet names it.
        reply["pid"] = int(os.readlink("/proc/self"))
        _set_up(req["hostname"], req["files"], req.get("cgroups_ro", True), req.get("ro_binds"))
        if req.get("share_pid"):
            _share_pid(reply)
    except BaseException as e:
        reply.pop("pid", None)
        reply["error"] = str(e)
    try:
        os.write(1, (json.dumps(reply) + "\n").encode())
        if "error" in reply:
            os._exit(1)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # not podnet's pipe: its EOF means this server is gone
        os.close(null)
        os.execv(argv[0], argv)
    finally:
        os._exit(127)


NAMESPACES = (("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET))


def _own_namespaces() -> list[tuple[int, int]] | None:
    """This process's namespaces, to come back to after each pod's set-up: (fd, type),
    the mount namespace last (entering it resets root and working directory). None when
    a spawned child's pid cannot be read back through a pidfd (Linux < 5.3)."""
    try:
        fd = os.pidfd_open(os.getpid())
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                if not any(ln.startswith("Pid:") for ln in f):
                    return None
        finally:
            os.close(fd)
        kinds = [*NAMESPACES, ("mnt", CLONE_NEWNS)]
        home = [(os.open(f"/proc/self/ns/{k}", os.O_RDONLY | os.O_CLOEXEC), t) for k, t in kinds]
    except (OSError, AttributeError):
        return None
    # Rootless, the UTS and IPC namespaces may still be the host's, which this user
    # namespace cannot enter again (setns: EPERM): entering each now says so.
    for ns_fd, kind in home:
        if libc.setns(ns_fd, kind) != 0:
            for opened, _ in home:
                os.close(opened)
            return None
    return home


def _host_pid(pid: int) -> int:
    """``pid`` (ours) as podnet names it: /proc here is still the one podnet sees, and a
    pidfd's fdinfo gives the pid in that /proc's PID namespace."""
    fd = os.pidfd_open(pid)
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for ln in f:
                if ln.startswith("Pid:"):
                    return int(ln.split()[1])
    finally:
        os.close(fd)
    raise OSError(f"no Pid in the fdinfo of pid {pid}'s pidfd")


def _spawn_here(req: dict[str, Any], argv: list[str], home: list[tuple[int, int]]) -> None:
    """A pod's holder without a fork of this process: its namespaces are made and set up
    here, the holder program is started into them with posix_spawn (vfork and exec: no
    copy of this interpreter's pages, which a forked child touched and so copied before
    its exec: 0.54 ms of CPU against 1.3 ms for a fork and exec of ``busybox true``), then
    this process enters its own namespaces again. The reply is written here, in request
    order."""
    reply: dict[str, Any] = {"id": req["id"]}
    pid: int | None = None
    try:
        try:
            _set_up(req["hostname"], req["files"], req.get("cgroups_ro", True), req.get("ro_binds"))
            pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                # stdin and stdout not podnet's pipe: its EOF means this server is gone
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                    (os.POSIX_SPAWN_DUP2, 0, 1),
                ],
                setsid=True,  # as Popen(start_new_session=True): Ctrl-C goes to podnet only
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),  # as Popen(restore_signals=True)
            )
        finally:
            for fd, kind in home:  # a failure here leaves this process unusable: it ends
                if libc.setns(fd, kind) != 0:
                    why = os.strerror(ctypes.get_errno())
                    raise SystemExit(f"pause server: cannot enter its own namespaces: {why}")
        reply["pid"] = _host_pid(pid)
        reply["nspid"] = pid
    except OSError as e:
        reply["error"] = str(e)
        if pid is not None:  # started, but its pid cannot be told: not left running
            os.kill(pid, signal.SIGKILL)
            reply["nspid"] = pid  # reaped on podnet's request, as a failed forked child
    sys.stdout.write(json.dumps(reply) + "\n")


def main() -> None:
    argv = sys.argv[1:]
    home = _own_namespaces()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        if req["op"] == "spawn":
            if home is not None and not req.get("share_pid"):
                _spawn_here(req, argv, home)
                sys.stdout.flush()
                continue
            sys.stdout.flush()  # before the fork: the child must not write our buffer again
            if os.fork() == 0:
                _child(req, argv)
        elif req["op"] == "reap":
            _, status = os.waitpid(req["nspid"], 0)
            code = os.waitstatus_to_exitcode(status)
            sys.stdout.write(json.dumps({"reaped": req["nspid"], "code": code}) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
