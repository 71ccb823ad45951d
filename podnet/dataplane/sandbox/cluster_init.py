"""pid 1 of podnet's cluster PID namespace. Standalone: stdlib only, run with -I -S.

It does two things: reaps orphans (every process in the namespace whose parent died is
re-parented here), and exits when podnet goes away. Its exit makes the kernel SIGKILL
every other process in the namespace (pid_namespaces(7): "If the init process of a
PID namespace terminates, the kernel terminates all of the processes in the namespace
via a SIGKILL signal"), which drops every network, UTS and mount namespace they held.

podnet is gone when stdin (the read end of a pipe only podnet can write) reaches EOF;
PR_SET_PDEATHSIG (set before exec) normally kills this process first.
"""

import os
import select
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready and not os.read(fd, 4096):
            os._exit(0)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


if __name__ == "__main__":
    main()
