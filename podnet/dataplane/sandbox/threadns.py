"""The calling thread inside a pod's namespaces for one spawn, then back: no ``nsenter``.

A container's ``crun run`` must start in the pause's network, UTS, IPC and mount
namespaces. ``nsenter`` does that with an exec of its own per container (~0.7 ms of
CPU: bench/README.md). A batch thread of the spawner (:meth:`Spawner.batch`) can do it
itself: namespaces are per task, so ``setns(2)`` changes this thread only, and a child
it forks starts in them, exactly where ``nsenter``'s exec would have been. A mount
namespace needs a thread that shares no ``fs_struct`` with others (setns(2): EINVAL
otherwise), so the thread first unshares ``CLONE_FS`` (a no-op once done).

The pod's namespaces are entered at once through a pidfd of its pause (setns(2) with a
pidfd and several flags, Linux 5.8; before that one ``/proc/<pid>/ns/*`` file each).
The thread's own namespaces and working directory are opened once per thread
(:func:`forget` closes them when the batch thread ends) and entered again after each
spawn; if that fails, :class:`RestoreError` ends the batch thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator

from podnet.dataplane import netns

CLONE_FS = 0x00000200
CLONE_NEWIPC = 0x08000000
# the order nsenter uses (util-linux nsenter.c): the mount namespace last, because
# entering it moves the thread's root and working directory
KINDS = (
    ("ipc", CLONE_NEWIPC),
    ("uts", netns.CLONE_NEWUTS),
    ("net", netns.CLONE_NEWNET),
    ("mnt", netns.CLONE_NEWNS),
)
ALL = CLONE_NEWIPC | netns.CLONE_NEWUTS | netns.CLONE_NEWNET | netns.CLONE_NEWNS

_local = threading.local()  # .home: this thread's namespace fds and working directory
_pidfd_setns = True  # False once the kernel refused setns through a pidfd (before 5.8)


class RestoreError(BaseException):
    """The thread could not return to its own namespaces: it must run nothing more.
    A BaseException, so that no handler of start errors (OSError, PodnetError) lets a
    batch thread go on; :meth:`Spawner.batch` hands it to the caller as the thread ends."""


def _open_all(prefix: str) -> list[int]:
    fds: list[int] = []
    try:
        for kind, _ in KINDS:
            fds.append(os.open(f"{prefix}/{kind}", os.O_RDONLY | os.O_CLOEXEC))
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _home() -> tuple[list[int], int]:
    """This thread's own namespaces and working directory, opened at its first use."""
    home: tuple[list[int], int] | None = getattr(_local, "home", None)
    if home is None:
        netns.unshare(CLONE_FS)
        fds = _open_all("/proc/thread-self/ns")
        try:
            cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        home = _local.home = (fds, cwd)
    return home


def forget() -> None:
    """Close what :func:`entered` keeps open for this thread (it is ending)."""
    home: tuple[list[int], int] | None = getattr(_local, "home", None)
    if home is not None:
        _local.home = None
        for fd in (*home[0], home[1]):
            os.close(fd)


def _enter(pid: int) -> None:
    """Into every namespace of ``pid`` at once, or none (a pid that is gone fails
    before anything changed)."""
    global _pidfd_setns
    if _pidfd_setns:
        fd = os.pidfd_open(pid)
        try:
            netns.setns(fd, ALL)
            return
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            _pidfd_setns = False  # a kernel before 5.8: one file per namespace
        finally:
            os.close(fd)
    target = _open_all(f"/proc/{pid}/ns")
    try:
        for fd, (_, flag) in zip(target, KINDS, strict=True):
            netns.setns(fd, flag)
    finally:
        for fd in target:
            os.close(fd)


@contextlib.contextmanager
def entered(pid: int) -> Iterator[None]:
    """This thread in the namespaces of ``pid`` (network, UTS, IPC, mount) for the
    ``with`` body, then back in its own, in its own working directory."""
    fds, cwd = _home()
    try:
        _enter(pid)
        yield
    finally:
        try:
            for fd, (_, flag) in zip(fds, KINDS, strict=True):
                netns.setns(fd, flag)
            os.fchdir(cwd)
        except OSError as e:
            raise RestoreError(f"cannot return to podnet's namespaces: {e}") from e
