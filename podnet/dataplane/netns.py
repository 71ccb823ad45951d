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
import pwd
import shutil
import signal
import socket
import subprocess
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


# shadow's subordinate id files (subuid(5), subgid(5)) and its set-uid mappers (Debian
# package uidmap), which rootless podman, Docker and containerd use the same way.
SUBUID, SUBGID = "/etc/subuid", "/etc/subgid"
NEWUIDMAP, NEWGIDMAP = "newuidmap", "newgidmap"
_TOOLS_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"


def subordinate_ranges(text: str, name: str, owner_id: int) -> list[tuple[int, int]]:
    """The ``(start, count)`` ranges that a subuid(5)/subgid(5) file grants a user,
    by name or by numeric id, as shadow's ``have_range`` matches them (pure)."""
    ranges = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in (name, str(owner_id)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if count > 0:
            ranges.append((start, count))
    return ranges


def _granted(path: str, name: str, owner_id: int) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            return subordinate_ranges(f.read(), name, owner_id)
    except OSError:
        return []


def _map_args(own: int, ranges: list[tuple[int, int]]) -> list[str]:
    """newuidmap's triples: 0 -> ``own``, then each range from inside id 1 on."""
    args, inside = ["0", str(own), "1"], 1
    for start, count in ranges:
        args += [str(inside), str(start), str(count)]
        inside += count
    return args


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def enter_user_namespace(uid: int, gid: int) -> bool:
    """unshare(CLONE_NEWUSER), uid/gid 0 inside being ``uid``/``gid`` outside; plus
    the subordinate ranges /etc/subuid and /etc/subgid grant the user, from id 1 on,
    when both grant one and newuidmap/newgidmap exist. True when ranges are mapped.

    The mappers must run outside the new namespace (a set-uid program gains nothing
    inside it), so a child forked before the unshare runs them on this process, as
    rootless podman's and rootlesskit's parents do; newgidmap leaves setgroups(2)
    allowed then, so containers get supplementary groups. Without ranges (or when the
    mappers fail before writing anything) only 0 is mapped (:func:`map_root_to`).
    The caller must be single-threaded (CLONE_NEWUSER and fork)."""
    name = _user_name(uid)
    uids, gids = _granted(SUBUID, name, uid), _granted(SUBGID, name, uid)
    tools = [shutil.which(t, path=_TOOLS_PATH) for t in (NEWGIDMAP, NEWUIDMAP)]
    if not uids or not gids or None in tools:
        unshare(CLONE_NEWUSER)
        map_root_to(uid, gid)
        return False
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    me = os.getpid()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child, which exits
        code = 1
        try:
            os.close(go_w)
            os.close(err_r)
            if os.read(go_r, 1):
                code = _run_mappers(me, [t for t in tools if t], gid, gids, uid, uids, err_w)
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(err_w)
    try:
        unshare(CLONE_NEWUSER)
        os.write(go_w, b"x")  # the child maps this process now
    except BaseException:
        os.close(go_w)  # EOF: the child exits without mapping anything
        os.close(err_r)
        os.waitpid(child, 0)
        raise
    os.close(go_w)
    with os.fdopen(err_r, "rb") as f:
        why = f.read().decode(errors="replace").strip()
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return True
    # newgidmap failed: nothing is mapped yet, so map 0 alone as without ranges.
    # newuidmap failed after it: the gid ranges stay, uid 0 alone is mapped.
    with open("/proc/self/gid_map") as f:
        gid_done = bool(f.read().strip())
    if not gid_done:
        map_root_to(uid, gid)
    else:
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
    _mapper_failures.append(why or "no message")
    return False


# Why the mappers failed, for the error a container with an unmapped id gets.
_mapper_failures: list[str] = []


def _run_mappers(
    pid: int,
    tools: list[str],
    gid: int,
    gids: list[tuple[int, int]],
    uid: int,
    uids: list[tuple[int, int]],
    err_fd: int,
) -> int:
    for tool, own, ranges in ((tools[0], gid, gids), (tools[1], uid, uids)):
        done = subprocess.run(
            [tool, str(pid), *_map_args(own, ranges)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err_fd,
            env={"PATH": _TOOLS_PATH},
            check=False,
        )
        if done.returncode != 0:
            return 1
    return 0


def mapped(map_path: str, wanted: int) -> bool:
    """Whether id ``wanted`` is mapped in this user namespace (a ``/proc/self/uid_map``
    or ``gid_map``: rows of inside start, outside start, count)."""
    try:
        with open(map_path) as f:
            rows = [ln.split() for ln in f if ln.strip()]
    except OSError:
        return True  # no user namespaces at all: every id is the host's
    return any(int(r[0]) <= wanted < int(r[0]) + int(r[2]) for r in rows)


def unmapped_ids(uid: int, gid: int, groups: tuple[int, ...]) -> str | None:
    """Why a container's user cannot be had in podnet's user namespace, or None.

    Rootless podnet maps uid/gid 0 to the user and, when /etc/subuid and /etc/subgid
    grant one, a subordinate range from 1 on (:func:`enter_user_namespace`); an id
    outside the map cannot be set (setuid(2) fails with EINVAL), so the container is
    refused up front with this reason, naming what would map it."""
    bad_uid = [] if mapped("/proc/self/uid_map", uid) else [uid]
    bad_gid = [g for g in dict.fromkeys((gid, *groups)) if not mapped("/proc/self/gid_map", g)]
    if not bad_uid and not bad_gid:
        return None
    with open("/proc/self/uid_map") as f:
        outer = int(f.read().split()[1])
    name = _user_name(outer)
    what = ", ".join([*(f"uid {u}" for u in bad_uid), *(f"gid {g}" for g in bad_gid)])
    head = (
        f"rootless podnet cannot run this container as {what} (runAsUser/runAsGroup, "
        "the image's User, supplementalGroups or fsGroup): its user namespace maps"
    )
    sizes = [_mapped_count("/proc/self/uid_map"), _mapped_count("/proc/self/gid_map")]
    if max(sizes) > 1:
        return (
            f"{head} uids 0-{sizes[0] - 1} and gids 0-{sizes[1] - 1} (the ranges "
            f"{SUBUID} and {SUBGID} grant {name!r}, from 1 on); use ids inside them"
        )
    if _mapper_failures:
        why = _mapper_failures[-1]
        return f"{head} only 0 (user {name!r}): newuidmap/newgidmap failed: {why}"
    if not _granted(SUBUID, name, outer) or not _granted(SUBGID, name, outer):
        return (
            f"{head} only 0 (user {name!r}), since {SUBUID} and {SUBGID} grant it no "
            f"range: add one (as root: usermod --add-subuids 100000-165535 "
            f"--add-subgids 100000-165535 {name}) or run podnet as root"
        )
    return (
        f"{head} only 0 (user {name!r}): {SUBUID} grants a range, but newuidmap and "
        "newgidmap (Debian package uidmap) are not installed"
    )


def _mapped_count(map_path: str) -> int:
    with open(map_path) as f:
        return sum(int(r.split()[2]) for r in f if r.strip())


def in_initial_user_namespace() -> bool:
    """Whether this process is in the host's user namespace (its uid map is the
    identity over every id): only there may a thread that entered a pod's namespaces
    enter the host's again (setns(2) needs CAP_SYS_ADMIN in their owner, the initial
    user namespace); rootless podnet runs in a user namespace of its own."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def netns_inode(pid: int) -> int:
    """The inode of a process's network namespace (what ``lsns`` shows)."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def socket_in(
    netns_path: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
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
            made.append(socket.socket(family, kind, proto))
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)

    worker = threading.Thread(target=work, name="podnet-socket-in-netns", daemon=True)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return made[0]
