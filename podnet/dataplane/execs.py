"""The one place podnet runs external commands (``ip``, ``nsenter``, ``nft``, ...).

STYLE.md principles 3 and 11: argv lists only, never shell strings; every failure is
turned into a :class:`podnet.errors.PodnetError` here, so callers test error types:

* the program is not installed -> :class:`NotSupportedError` (the machine cannot do it);
* it failed -> :func:`podnet.dataplane.failures.command_error`: a :class:`CommandError`
  with argv, exit status, stderr and errno, :class:`PermissionDeniedError` (also a
  :class:`NotSupportedError`) for EPERM/EACCES.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
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


# The seals crun and runc look for before they trust their own binary (crun
# src/libcrun/cloned_binary.c is_self_cloned: exactly these four).
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
_sealed: dict[str, int | None] = {}
_sealed_lock = threading.Lock()


def sealed_program(path: str) -> int | None:
    """An fd of a sealed in-memory copy of the program at ``path``, made once per
    process (close-on-exec: give it to a child with ``pass_fds`` and run it as
    ``/proc/self/fd/N``); None where that cannot be made or run (tried once, as
    ``/proc/self/fd/N --version``, which crun and runc answer).

    Why: crun and runc, started from a file on a writable filesystem, first copy or
    bind themselves to a read-only place and execute themselves again (the
    CVE-2019-5736 defence: a container must not overwrite the runtime's binary). A
    sealed memfd is such a copy already: they skip that second start (crun
    ``ensure_cloned_binary``; runc's contrib/cmd/memfd-bind does the same for every
    runc on a host). The seals forbid any write, so nothing is weaker than their own
    per-start copy; what ``kubectl exec`` saves is one ``execve`` and one load of
    crun's shared libraries per exec.
    """
    with _sealed_lock:
        if path not in _sealed:
            _sealed[path] = _seal(path)
        return _sealed[path]


def _seal(path: str) -> int | None:
    try:
        fd = os.memfd_create(os.path.basename(path), os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError:
        return None
    try:
        with open(path, "rb") as f:
            size, offset = os.fstat(f.fileno()).st_size, 0
            while offset < size:
                sent = os.sendfile(fd, f.fileno(), offset, size - offset)
                if sent == 0:
                    raise OSError(f"{path} shrank while copied")
                offset += sent
        os.fchmod(fd, 0o555)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
        # a kernel with vm.memfd_noexec set runs no memfd: see that once, here
        probe = subprocess.run(
            [f"/proc/self/fd/{fd}", "--version"],
            pass_fds=(fd,),
            capture_output=True,
            timeout=10,
            check=False,
        )
        if probe.returncode == 0:
            return fd
    except (OSError, subprocess.SubprocessError):
        pass
    os.close(fd)
    return None
