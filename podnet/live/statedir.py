"""The live cluster's scratch directory: records file, applet links, pods' files.

Where: on a tmpfs when there is one we may write to (``$XDG_RUNTIME_DIR``, else
``/dev/shm``), because the cluster writes hundreds of small files at start-up (the
busybox applet links alone: 258 symlinks took 0.28 s on this machine's ext4 /tmp and
0.02 s on tmpfs, bench/README.md). Pods see it: their mount namespaces are copies of
the host's.

Lifetime: removed by :meth:`LiveCluster.close`. A SIGKILLed podnet cannot remove it,
and unlike the cluster's namespaces no kernel object ties a directory to a process, so
the cluster init, which outlives podnet by a moment, removes it then
(:mod:`podnet.dataplane.sandbox.cluster_init`). Should that fail too (the init killed
at the same time), the name carries the owner's pid (``podnet-<pid>-<random>``) and
every new cluster first removes the directories of *dead* podnet processes of the same
user in the same place: found by that exact name pattern, owned by us, and their pid
gone. A live podnet's directory is never touched (its pid is alive); a reused pid only
delays the removal.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_NAME = re.compile(r"podnet-(\d+)-[A-Za-z0-9_]+")


def base_dir(environ: dict[str, str] | None = None) -> Path:
    """A tmpfs directory we can write to, else the system's temporary directory."""
    env = os.environ if environ is None else environ
    for candidate in (env.get("XDG_RUNTIME_DIR", ""), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def remove_stale(base: Path) -> list[Path]:
    """Remove the state directories of dead podnet processes of this user in ``base``."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        m = _NAME.fullmatch(entry.name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or st.st_uid != uid:
            continue
        if pid_alive(int(m.group(1))):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def make_state_dir(base: Path | None = None) -> tempfile.TemporaryDirectory[str]:
    """A fresh private directory for one cluster (mode 0700), after removing stale ones."""
    where = base or base_dir()
    remove_stale(where)
    return tempfile.TemporaryDirectory(prefix=f"podnet-{os.getpid()}-", dir=where)
