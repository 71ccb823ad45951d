"""A ``subPath`` bound without following a path the container may have changed.

Run inside the pod's mount namespace (``python -m podnet.dataplane.volumes.subpath
BASE SUBPATH STAGING``) before the pod's containers start. A container can write
symlinks into a writable volume (emptyDir), and a path checked first and bound later
by crun would follow one swapped in meanwhile, out of the volume and onto the host
(CVE-2017-1002101). As upstream (pkg/volume/util/subpath/subpath_linux.go
``doSafeOpen``, ``doBindSubPath``): the path is evaluated once inside the volume, then
opened component by component with O_NOFOLLOW from the volume's own descriptor, and
the bind is made of the opened file itself (open_tree(2) + move_mount(2), Linux 5.2;
upstream binds ``/proc/self/fd/N``, which needs a /proc of this process's PID
namespace, which the pod's mount namespace does not show) onto ``STAGING``, a path
only podnet writes. crun then binds ``STAGING``. A missing subPath is made a
directory, as kubelet does. Standard library only: it starts for every such pod.
"""

from __future__ import annotations

import ctypes
import os
import re
import stat
import sys

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
SYS_OPEN_TREE = 428  # the same number on every architecture (asm-generic, Linux 5.2)
SYS_MOVE_MOUNT = 429


class SubPathError(Exception):
    pass


def check(base: str, subpath: str) -> str:
    """``subpath`` evaluated (symlinks resolved) inside ``base``: relative to it."""
    if os.path.isabs(subpath) or ".." in subpath.split("/"):
        raise SubPathError(f"subPath {subpath!r} must be relative and contain no '..'")
    real_base = os.path.realpath(base)
    real = os.path.realpath(os.path.join(real_base, subpath))
    if real != real_base and not real.startswith(real_base + "/"):
        raise SubPathError(f"subPath {subpath!r} is outside the volume")
    return os.path.relpath(real, real_base)


def safe_open(base: str, rel: str) -> int:
    """An O_PATH descriptor of ``base/rel``, no symlink followed below ``base``;
    missing directories made (mode 0777, an emptyDir's)."""
    fd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in [p for p in rel.split("/") if p not in ("", ".")]:
        try:
            nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(part, 0o777, dir_fd=fd)
            nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        os.close(fd)
        fd = nxt
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            os.close(fd)
            raise SubPathError(f"subPath component {part!r} changed into a symlink")
    return fd


def bind(fd: int, staging: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.makedirs(staging, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(staging), exist_ok=True)
        os.close(os.open(staging, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    flags = OPEN_TREE_CLONE | AT_EMPTY_PATH | AT_RECURSIVE | os.O_CLOEXEC
    tree = libc.syscall(SYS_OPEN_TREE, fd, b"", flags)
    if tree < 0:
        raise OSError(ctypes.get_errno(), f"open_tree: {os.strerror(ctypes.get_errno())}")
    try:
        rc = libc.syscall(
            SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, staging.encode(), MOVE_MOUNT_F_EMPTY_PATH
        )
        if rc < 0:
            raise OSError(ctypes.get_errno(), f"move_mount: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(tree)


def mounted(path: str) -> bool:
    """Whether ``path`` is a mount point here already (a restarted container's bind)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point)
            if point == path:
                return True
    return False


def main(argv: list[str]) -> int:
    base, subpath, staging = argv
    if mounted(staging):  # made for an earlier run of the same container: kept
        return 0
    try:
        fd = safe_open(base, check(base, subpath))
        try:
            bind(fd, staging)
        finally:
            os.close(fd)
    except (SubPathError, OSError) as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
