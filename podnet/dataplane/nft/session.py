"""A long-lived ``nft -i`` process: small transactions without the per-exec costs.

Why: measured on kernel 6.18 / nftables 1.0.6 (bench/README.md), a one-shot
``nft -f -`` that *deletes* an element costs ~15 ms more than one that only adds,
all of it spent in ``close()`` of the netlink socket at exit (nf_tables flushes its
deferred-destroy work when the socket is released), plus ~4 ms of process start.
Endpoint changes are delete+add, so kube-proxy-like "one change in < 10 ms" needs a
socket that stays open. knftables execs nft per transaction; this keeps one.

In interactive mode nft runs each input *line* as one batch (one atomic transaction),
so a transaction is sent as its commands joined with ``;`` on one line. nft answers
nothing on success; errors go to stderr as ``Error: ...`` + the command + a caret
line. To know where a transaction's output ends, each line is followed by a command
that always fails (listing a table nobody creates) and stderr is read up to its echo.
Large transactions (full syncs) go through :class:`ExecNftRunner` instead: they are
rare and a 2 MB single line buys nothing.
"""

from __future__ import annotations

import subprocess
from types import TracebackType

from podnet.dataplane.nft.transaction import ExecNftRunner, Transaction, classify_nft_error
from podnet.errors import NftError, NotSupportedError

_MARKER = "list table ip podnet-nft-session-marker"
_MAX_INTERACTIVE_OPS = 2000


class NftSession:
    """An :class:`~podnet.dataplane.nft.transaction.NftRunner` over one ``<prefix> nft -i`` process.

    Use as a context manager (or call :meth:`close`): the process is ours and is ended
    by its pid only, by closing its stdin.
    """

    def __init__(self, prefix: tuple[str, ...] = (), nft: str = "nft") -> None:
        self.argv = [*prefix, nft, "-i"]
        self.fallback = ExecNftRunner(prefix, nft)
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
        except FileNotFoundError as e:
            raise NotSupportedError(f"cannot run {self.argv[0]!r}: {e}") from e

    def run(self, tx: Transaction) -> None:
        if not tx.ops:
            return
        if len(tx) > _MAX_INTERACTIVE_OPS:
            self.fallback.run(tx)
            return
        line = "; ".join(tx.render().splitlines())
        stdin, stderr = self.proc.stdin, self.proc.stderr
        assert stdin is not None and stderr is not None
        try:
            stdin.write(f"{line}\n{_MARKER}\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise NftError(self.argv, -1, f"nft -i is gone: {e}") from e
        seen: list[str] = []
        while True:
            out = stderr.readline()
            if not out:
                raise NftError(self.argv, -1, "nft -i exited: " + "".join(seen))
            if out.rstrip("\n") == _MARKER:
                stderr.readline()  # the caret line of the marker's error
                break
            seen.append(out)
        errors = seen[:-1]  # the last line read is the marker's own "Error: ..." line
        if errors:
            raise classify_nft_error(self.argv, 1, "".join(errors))

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> NftSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
