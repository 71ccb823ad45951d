"""A long-lived ``nft -i`` process: small transactions without the per-exec costs.

Why: a one-shot ``nft -f -`` pays a process start, and after a delete the netlink
socket's ``close()`` waits for nf_tables' deferred destroy work (bench/README.md); an
endpoint change is delete+add, so a sub-10 ms change needs a socket that stays open.
knftables execs nft per transaction; this keeps one.

nft -i runs each input *line* as one batch (atomic), so a transaction goes as its
commands joined with ``;``. It answers nothing on success; errors go to stderr. Each
line is followed by a marker line nft cannot parse, and stderr is read up to its echo:
a syntax error is echoed before any netlink call, so the echo comes even when the kernel
refuses everything (without CAP_NET_ADMIN nft 1.0.6 prints only ``cache initialization
failed``, no echo, for a command such as ``list table``). Large transactions (full
syncs) go through :class:`ExecNftRunner`: rare, and a 2 MB line buys nothing.

A transaction of more than :data:`INCLUDE_OVER` bytes is not typed in: nft -i reads its
input through libedit one byte per ``read(2)``, converting each to a wide character
and back, which cost nft more CPU than parsing and applying the elements (a scale-up
sends megabytes of them: a Service whose ready count changes moves all its elements,
``dataplane/proxy``). It is written to a memfd the session holds instead (inherited by
nft, so nothing lives in the filesystem and nothing outlives podnet), and the line is
``include "/dev/fd/N"``: nft's scanner reads the file directly, and the included commands
are part of that line's one batch, all or nothing as before (nft(8), "include").

The process may die (killed by someone, OOM): the kernel's tables are not affected, so
:meth:`NftSession.revive` just starts a new one. :meth:`NftSession.run` does that
before writing to a dead one, and after one dies under a transaction (then it raises,
and the caller's :class:`~podnet.dataplane.nft.syncer.TableSyncer` falls back to a full
sync, which replaces whatever half of the lost transaction may have landed). Each
restart is reported once by :meth:`revive`, for the owner to log and resync.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from types import TracebackType
from typing import Any

from podnet.dataplane.failures import nft_error
from podnet.dataplane.nft.generation import Generation
from podnet.dataplane.nft.transaction import ExecNftRunner, Transaction
from podnet.errors import NotSupportedError

_MARKER = "podnet-nft-session-marker"  # not nft syntax: always fails, always echoed
_MAX_INTERACTIVE_OPS = 2000
# bytes above which a transaction goes through the session's memfd (see above)
INCLUDE_OVER = 4096


class NftSession:
    """An :class:`~podnet.dataplane.nft.transaction.NftRunner` over one ``<prefix> nft -i`` process.

    Use as a context manager (or call :meth:`close`): the process is ours and is ended
    by its pid only, by closing its stdin.
    """

    def __init__(
        self, prefix: tuple[str, ...] = (), nft: str = "nft", generation: Generation | None = None
    ) -> None:
        self.argv = [*prefix, nft, "-i"]
        # the netns's ruleset generation (:mod:`.generation`), read after each of our
        # transactions: ``ours`` is where it stood then (None: unknown)
        self.generation = generation
        self.ours: int | None = None
        self.fallback = ExecNftRunner(prefix, nft)
        self.restarts = 0
        self._unreported: list[str] = []  # restarts not yet returned by revive()
        # what nft includes for a large transaction (close-on-exec here: passed to nft
        # explicitly, so no other child of podnet inherits it)
        self._memfd = os.memfd_create("podnet-nft-tx", os.MFD_CLOEXEC)
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[str]:
        try:
            return subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                pass_fds=(self._memfd,),
            )
        except FileNotFoundError as e:
            raise NotSupportedError(f"cannot run {self.argv[0]!r}: {e}") from e

    def revive(self) -> str | None:
        """Start a new ``nft -i`` if ours has exited; what was restarted since the last
        call (one line for the owner's log), or None when nothing was."""
        code = self.proc.poll()
        if code is not None:
            old = self.proc.pid
            self._close_pipes()
            self.proc = self._spawn()
            self.restarts += 1
            how = f"killed by signal {-code}" if code < 0 else f"exited {code}"
            self._unreported.append(
                f"nft -i (pid {old}) {how}; started a new one (pid {self.proc.pid})"
            )
        if not self._unreported:
            return None
        report = "; ".join(self._unreported)
        self._unreported.clear()
        return report

    def _restart_quietly(self) -> None:
        """Revive, keeping the report for the owner's next :meth:`revive` call."""
        report = self.revive()
        if report is not None:
            self._unreported.append(report)

    def run(self, tx: Transaction) -> None:
        if not tx.ops:
            return
        if len(tx) > _MAX_INTERACTIVE_OPS:
            self.fallback.run(tx)
            self._committed()
            return
        if self.proc.poll() is not None:
            self._restart_quietly()
        line = self._line(tx.render())
        stdin, stderr = self.proc.stdin, self.proc.stderr
        assert stdin is not None and stderr is not None
        try:
            stdin.write(f"{line}\n{_MARKER}\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as e:
            self._died()
            raise nft_error(self.argv, -1, f"nft -i is gone: {e}", errno=e.errno) from e
        seen: list[str] = []
        while True:
            out = stderr.readline()
            if not out:  # nft died; what it printed may still name an errno
                self._died()
                raise nft_error(self.argv, -1, "nft -i exited: " + "".join(seen))
            if out.rstrip("\n") == _MARKER:
                stderr.readline()  # the caret line of the marker's error
                break
            seen.append(out)
        errors = seen[:-1]  # the last line read is the marker's own "Error: ..." line
        if errors:
            self.ours = None
            raise nft_error(self.argv, 1, "".join(errors))
        self._committed()

    def _committed(self) -> None:
        """Note the generation our transaction left (someone committing in the instant
        between is taken for ours: the periodic comparison with what podnet wants,
        ``ClusterSync._verify``, still catches that)."""
        self.ours = self.current_generation()

    def current_generation(self) -> int | None:
        """The netns's ruleset generation now; None without a reader or when the kernel
        cannot say."""
        if self.generation is None:
            return None
        try:
            return self.generation.read()
        except OSError:
            return None

    def _line(self, text: str) -> str:
        """The one input line that applies ``text`` (one batch): the commands joined
        with ``;``, or above :data:`INCLUDE_OVER` bytes an include of the memfd, which
        nft reads only after this line is sent (the caller waits for its answer before
        the next transaction rewrites it)."""
        if len(text) <= INCLUDE_OVER:
            return "; ".join(text.splitlines())
        data = text.encode()
        os.ftruncate(self._memfd, 0)
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(self._memfd, view[offset:], offset)
        return f'include "/dev/fd/{self._memfd}"'

    @property
    def pid(self) -> int | None:
        """The running ``nft -i``'s pid (None once it has exited), for a watcher."""
        return self.proc.pid if self.proc.poll() is None else None

    def listing_json(self, table: str) -> list[dict[str, Any]] | None:
        """``nft -s -j list table <table>``'s ``nftables`` array, None when the table
        does not exist (what :mod:`podnet.dataplane.nft.drift` compares)."""
        text = self.listing(table, "-j")
        if text is None:
            return None
        objects: list[dict[str, Any]] = json.loads(text)["nftables"]
        return objects

    def listing(self, table: str, *flags: str) -> str | None:
        """``nft -s list table <table>`` (``table`` as ``"inet podnet-policy"``), None
        when the table does not exist. ``-s`` leaves out counter values, so traffic
        does not change the text: only someone else's edit does. A one-shot nft: the
        interactive session's stdout is not read."""
        argv = [*self.fallback.prefix, self.fallback.nft, "-s", *flags, "list", "table"]
        argv += table.split()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        except FileNotFoundError as e:
            raise NotSupportedError(f"cannot run {argv[0]!r}: {e}") from e
        if proc.returncode == 0:
            return proc.stdout
        # nft's own "Error: ...": nsenter says the same words when the node is gone
        if "Error: No such file or directory" in proc.stderr:
            return None
        raise nft_error(argv, proc.returncode, proc.stderr)

    def _died(self) -> None:
        """nft went away under a transaction: reap it and start a new one now, so the
        caller's full sync (after the error raised) finds a live session."""
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stderr closed but still running: ours
            self.proc.kill()
            self.proc.wait()
        self._restart_quietly()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_pipes()
        if self._memfd >= 0:
            os.close(self._memfd)
            self._memfd = -1
        if self.generation is not None:
            self.generation.close()

    def __enter__(self) -> NftSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
