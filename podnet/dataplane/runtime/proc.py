"""Watching one child process from the event loop: its output lines and its exit.

Output is read from a non-blocking pipe and cut into lines (a partial last line is
flushed at EOF); the exit is seen through a pidfd, or by polling on kernels without
one. When the process exits, whatever output is already in the pipe is read first, so
a container's last log lines come before its Terminated status.

A container with a terminal has a second output, the pty master (``tty``): read the same
way into lines (CRI runtimes log a terminal's output as its stdout; the ``\r`` of each
``\r\n`` dropped) and also handed on raw, as it came, to ``on_chunk`` (attach clients
want the prompt, which has no newline). The master reads EIO once the last process
holding the terminal is gone: that is its end.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

from podnet.dataplane.runtime.loop import Loop, pidfd

POLL = 0.05  # seconds between exit checks without a pidfd


class ProcWatch:
    def __init__(
        self,
        loop: Loop,
        proc: subprocess.Popen[bytes],
        on_exit: Callable[[int], None],
        on_line: Callable[[str], None] | None = None,
        *,
        tty: int | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> None:
        self.loop, self.proc = loop, proc
        self._on_exit, self._on_line, self._on_chunk = on_exit, on_line, on_chunk
        self._buf = b""
        self._tty_buf = b""
        self._out: int | None = None
        self._tty = tty  # not owned: the caller closes it after the exit
        self.exited = False
        if proc.stdout is not None and on_line is not None:
            self._out = proc.stdout.fileno()
            os.set_blocking(self._out, False)
            loop.add_reader(self._out, self._read)
            loop.on_close(self._close_out)
        if tty is not None:
            os.set_blocking(tty, False)
            loop.add_reader(tty, self._read_tty)
        self._pidfd = pidfd(proc.pid)
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._exit)
        else:
            loop.call_later(POLL, self._poll)

    def _read(self) -> None:
        if self._out is None:
            return
        while True:
            try:
                data = os.read(self._out, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_out()
                return
            self._buf += data
            *lines, self._buf = self._buf.split(b"\n")
            for raw in lines:
                self._emit(raw)

    def _read_tty(self) -> None:
        while self._tty is not None:
            try:
                data = os.read(self._tty, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: no process holds the terminal any more
                data = b""
            if not data:
                self._close_tty()
                return
            if self._on_chunk is not None:
                self._on_chunk(data)
            self._tty_buf += data
            *lines, self._tty_buf = self._tty_buf.split(b"\n")
            for raw in lines:
                self._emit(raw)

    def _close_tty(self) -> None:
        if self._tty is None:
            return
        if self._tty_buf:
            self._emit(self._tty_buf)
            self._tty_buf = b""
        self.loop.remove_reader(self._tty)
        self._tty = None

    def _emit(self, raw: bytes) -> None:
        if self._on_line is not None:
            self._on_line(raw.decode("utf-8", "replace").rstrip("\r"))

    def _close_out(self) -> None:
        if self._out is None:
            return
        if self._buf:
            self._emit(self._buf)
            self._buf = b""
        self.loop.remove_reader(self._out)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._out = None
        self.loop.cancel_close(self._close_out)

    def _poll(self) -> None:
        if self.proc.poll() is None:
            self.loop.call_later(POLL, self._poll)
        else:
            self._exit()

    def _exit(self) -> None:
        if self.exited:
            return
        self.exited = True
        code = self.proc.wait()
        if self._pidfd is not None:
            self.loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        self._read()  # what is already in the pipe belongs before the exit
        self._read_tty()
        self._close_tty()
        self._on_exit(code)
