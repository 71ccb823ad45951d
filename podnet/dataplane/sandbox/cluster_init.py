"""pid 1 of podnet's cluster PID namespace. Standalone: stdlib only, run with -I -S.

It does three things: reaps orphans (every process in the namespace whose parent died
is re-parented here), removes podnet's state directory (argv[1], if given) when podnet
dies without doing so, and then exits. Its exit makes the kernel SIGKILL every other
process in the namespace (pid_namespaces(7): "If the init process of a PID namespace
terminates, the kernel terminates all of the processes in the namespace via a SIGKILL
signal"), which drops every network, UTS and mount namespace they held.

podnet is gone when SIGHUP arrives (PR_SET_PDEATHSIG, set before exec) or stdin (the
read end of a pipe only podnet can write) reaches EOF, which covers a podnet that died
before the death signal was set. A normal teardown SIGKILLs this process instead, and
podnet removes its directory itself.
"""

import contextlib
import os
import select
import shutil
import signal
import sys
import time


class PodnetGone(Exception):
    """SIGHUP: the thread of podnet that started us has exited."""


def _gone(_signum: int, _frame: object) -> None:
    raise PodnetGone


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _clean_up(scratch: str | None) -> None:
    """Kill the namespace first (kill(-1) spares only us), so no pod writes into the
    directory while it is removed; then remove it and exit."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with contextlib.suppress(ProcessLookupError):  # nobody left
        os.kill(-1, signal.SIGKILL)
    end = time.monotonic() + 2.0  # many containers dying on a loaded machine take a while
    while time.monotonic() < end:
        _reap()
        try:
            os.kill(-1, 0)
        except ProcessLookupError:
            break  # nobody left
        time.sleep(0.01)
    # rmtree with ignore_errors gives up on a directory that was not empty when it got
    # there (a file a dying process still made); a few passes finish the job. Seen once
    # in CI: the scratch dir left after a SIGKILL of `podnet run` with crun containers.
    for _ in range(20):
        if not scratch or not os.path.lexists(scratch):
            break
        shutil.rmtree(scratch, ignore_errors=True)
        _reap()
        time.sleep(0.02)
    os._exit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    scratch = sys.argv[1] if len(sys.argv) > 1 else None
    signal.signal(signal.SIGHUP, _gone)
    fd = sys.stdin.fileno()
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready and not os.read(fd, 4096):
                break
            _reap()
    except PodnetGone:
        pass
    _clean_up(scratch)


if __name__ == "__main__":
    main()
