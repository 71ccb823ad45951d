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
"""

from __future__ import annotations

import subprocess
from types import TracebackType

from podnet.dataplane.failures import nft_error
from podnet.dataplane.nft.transaction import ExecNftRunner, Transaction
from podnet.errors import NotSupportedError

_MARKER = "podnet-nft-session-marker"  # not nft syntax: always fails, always echoed
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
            raise nft_error(self.argv, -1, f"nft -i is gone: {e}", errno=e.errno) from e
        seen: list[str] = []
        while True:
            out = stderr.readline()
            if not out:  # nft died; what it printed may still name an errno
                raise nft_error(self.argv, -1, "nft -i exited: " + "".join(seen))
            if out.rstrip("\n") == _MARKER:
                stderr.readline()  # the caret line of the marker's error
                break
            seen.append(out)
        errors = seen[:-1]  # the last line read is the marker's own "Error: ..." line
        if errors:
            raise nft_error(self.argv, 1, "".join(errors))

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
