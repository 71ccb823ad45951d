"""One read of the process table: each process's parent, CPU time and resident set.

What cAdvisor reads from a container's cgroup (cpuacct usage, memory working set), taken
from the container's process tree instead, since podnet runs containers without cgroups
(crun ``--cgroup-manager=disabled``). A tree's CPU is the sum of its live processes'
utime+stime plus cutime+cstime (children they reaped: a shell's finished commands);
its memory the sum of their RSS (proc(5) ``/proc/<pid>/stat`` fields 4, 14-17, 24).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    cpu_ns: int  # utime+stime+cutime+cstime, in nanoseconds
    rss: int  # bytes
    start: float  # seconds since boot


def parse_stat(text: str) -> ProcStat:
    """Fields of ``/proc/<pid>/stat``; the command (field 2) may hold spaces and
    parentheses, so the rest is split after its last ``)``."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): field N is rest[N - 3]
    ticks = sum(int(rest[i]) for i in (11, 12, 13, 14))
    return ProcStat(
        ppid=int(rest[1]),
        cpu_ns=ticks * 1_000_000_000 // TICKS,
        rss=max(int(rest[21]), 0) * PAGE,
        start=int(rest[19]) / TICKS,
    )


def snapshot(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    """Every process visible now (one that exits while being read is left out)."""
    out: dict[int, ProcStat] = {}
    with os.scandir(proc) as entries:
        found = [e.path for e in entries if e.name.isdigit()]
    for path in found:
        try:
            with open(f"{path}/stat", encoding="ascii", errors="replace") as f:
                out[int(os.path.basename(path))] = parse_stat(f.read())
        except (OSError, ValueError, IndexError):
            continue
    return out


def _has_children_files() -> bool:
    return os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children")


# proc(5) /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN, set by Debian's kernels)
CHILDREN_FILES = _has_children_files()


def subtree(root: int, proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    """``root`` and its descendants (empty when ``root`` is gone), found through each
    task's ``children`` file: the cost of one container's few processes, where
    :func:`snapshot` reads every process on the machine (three per pod in a scale-up,
    read once a second for the containers new since the last scrape). A child
    forked or reaped during the walk may be missed, as by a snapshot read meanwhile."""
    out: dict[int, ProcStat] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        try:
            with open(f"{proc}/{pid}/stat", encoding="ascii", errors="replace") as f:
                out[pid] = parse_stat(f.read())
            tids = os.listdir(f"{proc}/{pid}/task")
        except (OSError, ValueError, IndexError):
            out.pop(pid, None)
            continue
        for tid in tids:
            try:
                with open(f"{proc}/{pid}/task/{tid}/children", encoding="ascii") as f:
                    stack.extend(int(c) for c in f.read().split())
            except (OSError, ValueError):
                continue
    return out


def children(table: dict[int, ProcStat]) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for pid, st in table.items():
        kids.setdefault(st.ppid, []).append(pid)
    return kids


def tree_usage(
    table: dict[int, ProcStat], kids: dict[int, list[int]], root: int
) -> tuple[int, int] | None:
    """(cpu_ns, rss bytes) of ``root`` and its descendants, None when ``root`` is gone."""
    if root not in table:
        return None
    cpu = rss = 0
    stack = [root]
    seen: set[int] = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        st = table.get(pid)
        if st is None:
            continue
        cpu += st.cpu_ns
        rss += st.rss
        stack.extend(kids.get(pid, ()))
    return cpu, rss


def boot_time() -> float:
    """The wall-clock time of boot (``btime`` in /proc/stat): a process's start as a
    timestamp."""
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0
