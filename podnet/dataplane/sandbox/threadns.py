"""The calling thread inside a pod's namespaces for one spawn, then back: no ``nsenter``.

A container's ``crun run`` must start in the pause's network, UTS, IPC and mount
namespaces. ``nsenter`` does that with an exec of its own per container (~0.7 ms of
CPU: bench/README.md). A batch thread of the spawner (:meth:`Spawner.batch`) can do it
itself: namespaces are per task, so ``setns(2)`` changes this thread only, and a child
it forks starts in them, exactly where ``nsenter``'s exec would have been. A mount
namespace needs a thread that shares no ``fs_struct`` with others (setns(2): EINVAL
otherwise), so the thread first unshares ``CLONE_FS`` (a no-op once done). Afterwards
the thread goes back to the namespaces it had and its working directory; if that
fails, :class:`RestoreError` ends the batch thread.
"""

from __future__ import annotations

import contextlib
import os
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


@contextlib.contextmanager
def entered(pid: int) -> Iterator[None]:
    """This thread in the namespaces of ``pid`` (network, UTS, IPC, mount) for the
    ``with`` body, then back in its own, in its own working directory.

    Every namespace of ``pid`` is opened before any is entered: a pid that is gone
    fails here, with the thread untouched."""
    netns.unshare(CLONE_FS)
    target = _open_all(f"/proc/{pid}/ns")
    try:
        home = _open_all("/proc/thread-self/ns")
    except OSError:
        for fd in target:
            os.close(fd)
        raise
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            for fd, (_, flag) in zip(target, KINDS, strict=True):
                netns.setns(fd, flag)
            yield
        finally:
            try:
                for fd, (_, flag) in zip(home, KINDS, strict=True):
                    netns.setns(fd, flag)
                os.fchdir(cwd)
            except OSError as e:
                raise RestoreError(f"cannot return to podnet's namespaces: {e}") from e
    finally:
        for fd in (*target, *home, cwd):
            os.close(fd)
