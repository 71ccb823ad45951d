"""pid 1 of podnet's cluster PID namespace. Standalone: stdlib only, run with -I -S.

It does three things: reaps orphans (a process whose parent in the namespace died is
re-parented here; podnet's own children go to the host's reaper), removes podnet's
state directory (argv[1], if given) when podnet dies without doing so, and then
exits. Its exit makes the kernel SIGKILL every other
process in the namespace (pid_namespaces(7): "If the init process of a PID namespace
terminates, the kernel terminates all of the processes in the namespace via a SIGKILL
signal"), which drops every network, UTS and mount namespace they held.

podnet is gone when SIGHUP arrives (PR_SET_PDEATHSIG, set before exec) or stdin (the
read end of a pipe only podnet can write) reaches EOF, which covers a podnet that died
before the death signal was set. A normal teardown SIGKILLs this process instead, and
podnet removes its directory itself.

The SIGHUP handler only wakes the loop (a wakeup fd), it never raises: the death signal
comes once per dying podnet thread (the kernel re-parents us to a live thread of the
group and sends it again, kernel/exit.c ``reparent_leader``/``forget_original_parent``),
and an exception raised by the second one inside the clean-up ended this process with
the directory still there (measured: 8 in 120 SIGKILLs of a 100-thread sandbox holder).
"""

import contextlib
import os
import select
import shutil
import signal
import sys
import time

# Removal passes end by then: a process SIGKILLed a moment ago may still finish the
# system call it was in (a file made in the tree), so one pass may find a directory
# not empty; once the top directory is gone, nothing can be made under it again.
REMOVE_FOR = 3.0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _await_podnet_gone(stdin: int, woken: int) -> None:
    """Return once SIGHUP has woken us (``woken`` readable) or ``stdin`` is at EOF."""
    while True:
        ready, _, _ = select.select([stdin, woken], [], [], 0.5)
        if woken in ready:
            return
        if stdin in ready and not os.read(stdin, 4096):
            return
        _reap()


def _remove(scratch: str) -> None:
    """rmtree until the directory is gone, or REMOVE_FOR has passed.

    No wait for the killed processes first: podnet's own children in this namespace
    are re-parented to the host's reaper, not to us (kernel/exit.c find_child_reaper
    takes the dying parent's PID namespace; seen: ppid 1 on the host), so they stay
    visible to kill(-1, 0) as zombies until the host reaps them: up to 1 s here (the
    host's pid 1 reaps once a second), never in a container whose pid 1 does not reap.
    Mounts of the pods' own mount namespaces under the directory do not stop its
    removal (rmdir(2) of another namespace's mount point detaches it, Linux 3.18)."""
    end = time.monotonic() + REMOVE_FOR
    while os.path.lexists(scratch):
        shutil.rmtree(scratch, ignore_errors=True)
        _reap()
        if time.monotonic() > end:
            return
        if os.path.lexists(scratch):
            time.sleep(0.01)


def _clean_up(scratch: str | None) -> None:
    """Kill the namespace (kill(-1) spares only us), remove the directory, exit."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with contextlib.suppress(ProcessLookupError):  # nobody left
        os.kill(-1, signal.SIGKILL)
    if scratch:
        _remove(scratch)
    os._exit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    scratch = sys.argv[1] if len(sys.argv) > 1 else None
    woken, wake = os.pipe()
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    # A handler must be set: the kernel drops a signal left at SIG_DFL for a PID
    # namespace's init (pid_namespaces(7)).
    signal.signal(signal.SIGHUP, lambda _signum, _frame: None)
    _await_podnet_gone(sys.stdin.fileno(), woken)
    _clean_up(scratch)


if __name__ == "__main__":
    main()
