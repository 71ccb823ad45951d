"""Finding a container's ``crun run`` process by its argv, with real processes: the
one whose argv carries the state root and ends with the container id is found; the
others read are remembered and not read again; the scraper's sample sums the
process's descendants only (the runtime itself is not counted)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from podnet.apiserver.metrics import proc
from podnet.apiserver.metrics.scraper import Running, sample
from podnet.live.metrics import run_processes


def _execd(pids: list[int], name: str) -> bool:
    try:
        return bool(pids) and all(Path(f"/proc/{p}/comm").read_text().strip() == name for p in pids)
    except OSError:
        return False


def test_run_process_found_by_root_and_id() -> None:
    root = f"/tmp/podnet-test-root-{os.getpid()}"
    # sh stays the parent (a second command keeps it from exec'ing sleep)
    argv = ["sh", "-c", "sleep 5; :", "--root", root, "run", "--bundle", "/b", "cid-1"]
    child = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 5
        found: dict[str, int] = {}
        skip: set[int] = set()
        while time.monotonic() < deadline and "cid-1" not in found:
            found = run_processes(root, skip)
        assert found == {"cid-1": child.pid}
        assert child.pid not in skip and os.getpid() not in skip  # ours: read again
        assert len(skip) > 0
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
