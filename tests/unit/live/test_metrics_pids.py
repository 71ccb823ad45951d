"""The scraper's sample of a container, with real processes: the descendants of its
runtime's ``run`` process are summed, that process itself is not counted."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from podnet.apiserver.metrics import proc
from podnet.apiserver.metrics.scraper import Running, sample


def _execd(pids: list[int], name: str) -> bool:
    try:
        return bool(pids) and all(Path(f"/proc/{p}/comm").read_text().strip() == name for p in pids)
    except OSError:
        return False


def test_sample_sums_the_run_process_descendants_only() -> None:
    # sh stays the parent (a second command keeps it from exec'ing sleep)
    child = subprocess.Popen(["sh", "-c", "sleep 5; :"])
    try:
        deadline = time.monotonic() + 5
        # the container is the run process's descendants: the sleep
        table = proc.snapshot()
        kids = proc.children(table)
        # until sh has forked and the fork has exec'd sleep: before the exec the
        # child's RSS is a copy of sh's, and the sample read after it would differ
        while time.monotonic() < deadline and not _execd(kids.get(child.pid, []), "sleep"):
            table = proc.snapshot()
            kids = proc.children(table)
        assert [table[k].ppid for k in kids.get(child.pid, [])] == [child.pid]
        # sleep's RSS still grows while its loader maps libc after the exec: compare
        # with a table read just before each sample until two agree (the run process's
        # own RSS, sh's, is never in the sum: a sample counting it would never agree)
        deadline = time.monotonic() + 10
        while True:
            table = proc.snapshot()
            expected = sum(table[k].rss for k in proc.children(table).get(child.pid, []))
            (s,) = sample([Running("default", "p", "c", child.pid)], time.time())
            if s.point.memory == expected or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert s.point.memory == expected
    finally:
        child.kill()
        child.wait()
