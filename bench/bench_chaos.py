"""Benchmark the chaos run (issue 14): time to detect and to repair each failure.

    sudo .venv/bin/python bench/bench_chaos.py [--runs 5] [--only CLASS ...]

The scenario of tests/e2e/test_chaos.py (tests/support/chaos.py): ``podnet run`` through
the real CLI with 2 nodes, an nginx Deployment of 2 behind a Service and a client
fetching it by DNS name every ~100 ms; once traffic flows, one helper process is
SIGKILLed by pid (found in the run's own process tree). Per class, over ``--runs``
fresh runs: seconds from the kill to podnet's line on stderr (detect), to the repair
(a new process of the same class in the same pod, or podnet's "repaired" line), to
healthy traffic again (3 ok fetches after the last failure), and the failed fetches.
Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from support.chaos import CLASSES, ChaosRun, Outcome, boottime  # noqa: E402

BOUND = 10.0  # seconds to wait for each of report, repair, recovery


def one(victim: str) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        run = ChaosRun(Path(tmp), timeout=60)
        try:
            pid, at = run.kill(victim)
            if victim == "cluster-init":
                out = run.observe(victim, pid, at, BOUND)
                run.proc.wait(BOUND)
                print(f"  exit {run.proc.returncode} {boottime() - at:.3f}s after the kill")
                return out
            out = run.observe(victim, pid, at, BOUND)
            rc = run.stop()
            if rc != 143:
                raise SystemExit(f"{victim}: the run exited {rc}:\n{run.tail()}")
            return out
        finally:
            run.close()


def fmt(values: list[float | None], unit: float = 1000.0) -> str:
    """median / max in ms; ``-`` when not applicable, ``never`` if any did not come."""
    if all(v is None for v in values):
        return "-"
    if any(v is None for v in values):
        return "never (some runs)"
    got = [v * unit for v in values if v is not None]
    return f"{statistics.median(got):.0f} / {max(got):.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", nargs="*", choices=CLASSES, default=list(CLASSES))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces, nftables)")
    rows = []
    for victim in args.only:
        outs = []
        for i in range(args.runs):
            o = one(victim)
            print(f"{victim} #{i + 1}: {o}", flush=True)
            outs.append(o)
        rows.append(
            f"| {victim} | {fmt([o.detect for o in outs])} | {fmt([o.repair for o in outs])} "
            f"| {fmt([o.recovered for o in outs])} "
            f"| {sum(o.failed for o in outs)} / {max(o.failed for o in outs)} "
            f"| {max(o.outage for o in outs) * 1000:.0f} |"
        )
    nft = subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()
    print()
    print(f"`{' '.join(['sudo .venv/bin/python bench/bench_chaos.py', *sys.argv[1:]])}`")
    print(
        f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPUs, Linux "
        f"{platform.release()}, Python {platform.python_version()}, {nft}; "
        f"{args.runs} runs per class"
    )
    print()
    print(
        "| killed | detect ms (median / max) | repair ms | traffic healthy ms "
        "| failed fetches (total / worst run) | client outage ms (worst) |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
