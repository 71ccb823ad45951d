"""The one place podnet runs external commands (``ip``, ``nsenter``, ``nft``, ...).

STYLE.md principles 3 and 11: argv lists only, never shell strings; every failure is
turned into a :class:`podnet.errors.PodnetError` here, so callers test error types:

* the program is not installed -> :class:`NotSupportedError` (the machine cannot do it);
* it failed -> :func:`podnet.dataplane.failures.command_error`: a :class:`CommandError`
  with argv, exit status, stderr and errno, :class:`PermissionDeniedError` (also a
  :class:`NotSupportedError`) for EPERM/EACCES.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from podnet.dataplane.failures import command_error
from podnet.errors import CommandError, NotSupportedError


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
        raise command_error(args, proc.returncode, proc.stderr)
    return proc.stdout


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
                first = command_error(args, proc.returncode, err)
    if first is not None:
        raise first
