"""Linux namespace system calls through ctypes: unshare, setns, prctl, mount, hostname.

Python 3.11 has no ``os.unshare``/``os.setns`` (they arrived in 3.12), so libc is called
directly. Every function raises :class:`OSError` with the real errno; callers that run
in a forked child (``preexec_fn``) report it, callers in podnet map it to
:class:`podnet.errors.NotSupportedError`.

Constants are from <sched.h>, <sys/mount.h> and <linux/prctl.h>.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import threading

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """unshare(2). CLONE_NEWUSER needs a single-threaded caller; CLONE_NEWPID takes
    effect for the caller's *children* only (the first one becomes the new pid 1)."""
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def setns(fd: int, nstype: int) -> None:
    """setns(2) for the calling thread only (namespaces are per task)."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns({nstype:#x})")


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """prctl(PR_SET_PDEATHSIG): deliver ``sig`` when the parent *thread* exits.

    Kept across execve (cleared only for set-uid/set-gid programs and on fork).
    """
    _check(
        _libc.prctl(ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(sig), 0, 0, 0),
        "prctl(PR_SET_PDEATHSIG)",
    )


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    src = source.encode() if source is not None else None
    fs = fstype.encode() if fstype is not None else None
    opts = data.encode() if data else None
    _check(
        _libc.mount(src, target.encode(), fs, ctypes.c_ulong(flags), opts),
        f"mount {source or ''} {target} ({fstype or 'bind'})",
    )


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def map_root_to(uid: int, gid: int) -> None:
    """After unshare(CLONE_NEWUSER): map uid/gid 0 inside to ``uid``/``gid`` outside.

    ``setgroups`` must be denied before an unprivileged process may write gid_map
    (user_namespaces(7)); this is what ``unshare --map-root-user`` does.
    """
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def netns_inode(pid: int) -> int:
    """The inode of a process's network namespace (what ``lsns`` shows)."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def socket_in(
    netns_path: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    """A new socket of the network namespace at ``netns_path``: made by a throw-away
    thread that setns(2)s there (a socket keeps the namespace it was created in, so it
    can then be bound, listened on or connected from any thread of ours)."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind))
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)

    worker = threading.Thread(target=work, name="podnet-socket-in-netns", daemon=True)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return made[0]
