"""The one place podnet runs external commands (``ip``, ``nsenter``, ``nft``, ...).

STYLE.md principles 3 and 11: argv lists only, never shell strings; every failure is
turned into a :class:`podnet.errors.PodnetError` here, so callers test error types:

* the program is not installed -> :class:`NotSupportedError` (the machine cannot do it);
* the kernel refused for lack of privilege (``Operation not permitted``) ->
  :class:`NotSupportedError` as well: no retry or different input can fix it;
* anything else -> :class:`CommandError` with argv, exit status and stderr.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from podnet.errors import (  # `X as X`: re-exported, defined in podnet.errors
    CommandError,
    NotSupportedError,
    PermissionDeniedError,
)

# stderr fragments that mean "this machine/user may not do this", whatever the tool.
_NOT_PERMITTED = ("Operation not permitted", "Permission denied")


def run(argv: Sequence[str], input: str | None = None, *, timeout: float = 60.0) -> str:
    """Run ``argv``, feeding ``input`` on stdin; return stdout, raise on failure.

    A timeout is a :class:`CommandError` too (returncode -1): a wedged ``ip`` or
    ``nft`` is a failed command, not a hang of podnet.
    """
    args = list(argv)
    try:
        proc = subprocess.run(
            args,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise NotSupportedError(f"{args[0]} is not installed (needed for: {' '.join(args)})") from e
    except subprocess.TimeoutExpired as e:
        raise CommandError(args, -1, f"timed out after {timeout}s") from e
    if proc.returncode != 0:
        raise classify(args, proc.returncode, proc.stderr)
    return proc.stdout


def classify(argv: list[str], returncode: int, stderr: str) -> CommandError:
    """The error for a failed command (a :class:`CommandError` in every case).

    Lack of privilege gets the :class:`PermissionDeniedError` subclass, which is also a
    :class:`NotSupportedError`, so ``except NotSupportedError`` catches both a missing
    tool and a missing capability.
    """
    if any(s in stderr for s in _NOT_PERMITTED):
        return PermissionDeniedError(argv, returncode, stderr)
    return CommandError(argv, returncode, stderr)


def run_all(jobs: Sequence[tuple[Sequence[str], str]], *, parallel: int = 16) -> None:
    """Run many short commands, ``parallel`` at a time; raise the first failure.

    Used for the per-pod ``ip -batch`` inside each pod's netns: those are independent,
    and exec latency, not CPU, dominates them. Every started process is waited for
    even after a failure, so none is left behind.
    """
    first: CommandError | None = None
    for start in range(0, len(jobs), parallel):
        started: list[tuple[list[str], subprocess.Popen[str]]] = []
        for argv, text in jobs[start : start + parallel]:
            args = list(argv)
            try:
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            except FileNotFoundError as e:
                raise NotSupportedError(f"{args[0]} is not installed") from e
            assert proc.stdin is not None
            proc.stdin.write(text)  # small: fits the pipe buffer, cannot block
            proc.stdin.close()
            started.append((args, proc))
        for args, proc in started:
            assert proc.stderr is not None
            err = proc.stderr.read()
            proc.stderr.close()
            proc.wait()
            if proc.returncode != 0 and first is None:
                first = classify(args, proc.returncode, err)
    if first is not None:
        raise first
