"""Benchmark ``podnet probe`` end to end: a 9-pod, 2-port case through the CLI.

The cluster is upstream's netpol model (namespaces x, y, z; pods a, b, c; one agnhost
container per port) with the stacked-policies case 015 (ports 80 and 81 TCP, some
pairs denied, so the default ``--deny drop`` costs the full 1 s probe timeout).
Each run is ``python -m podnet probe -f case.yaml [--via V]`` in a fresh process,
timed by wall clock from start to exit (interpreter start, loading, bring-up,
readiness, probes, teardown); the phases come from its progress lines.

    sudo .venv/bin/python bench/bench_probe.py [--runs 5] [--via pod,service]
        [--deny drop,reject] [--write]

``--write`` replaces the probe section of bench/README.md with the measured table.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from podnet.analyze.conformance import build_case_cluster, case_documents, load_case  # noqa: E402

# ../shared beside the repository, as the tests find it; PODNET_SHARED overrides.
SHARED = Path(
    os.environ.get("PODNET_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)
CASE = SHARED / "conformance" / "netpol-e2e" / "015-stacked-policies-step1.yaml"
BEGIN, END = "<!-- probe:begin -->", "<!-- probe:end -->"
PHASES = {
    "up": re.compile(r"cluster up in ([\d.]+)s"),
    "probe": re.compile(r"probes from .* in ([\d.]+)s"),
}


def write_manifest(tmp: Path) -> Path:
    case = load_case(CASE)
    state = build_case_cluster(case, 1)
    ips = {p.key: p.ip for p in state.pods if p.ip}
    path = tmp / "case.yaml"
    path.write_text(yaml.safe_dump_all([d for d, _ in case_documents(case, ips)]))
    return path


def one_run(manifest: Path, via: str, deny: str) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "podnet",
            "probe",
            "-f",
            str(manifest),
            "--via",
            via,
            "--deny",
            deny,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"podnet probe exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}")
    row = {"wall": wall, "cpu": cpu}
    for name, rx in PHASES.items():
        m = rx.search(proc.stderr)
        row[name] = float(m.group(1)) if m else float("nan")
    return row


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs (nproc), {cpu}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--via", default="pod,service")
    ap.add_argument("--deny", default="drop,reject")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    lines = [
        "| via | deny | median wall (runs) | min | max | cluster up | servers start + probes "
        "| CPU, all processes | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_manifest(Path(tmp))
        one_run(manifest, "pod", "drop")  # warm the page cache; not counted
        for deny in args.deny.split(","):
            for via in args.via.split(","):
                rows = [one_run(manifest, via, deny) for _ in range(args.runs)]
                walls = [r["wall"] for r in rows]
                med = {k: statistics.median(r[k] for r in rows) for k in ("up", "probe", "cpu")}
                load = os.getloadavg()[0]
                lines.append(
                    f"| {via} | {deny} | {statistics.median(walls):.2f} s ({len(walls)}) "
                    f"| {min(walls):.2f} s | {max(walls):.2f} s | {med['up']:.2f} s "
                    f"| {med['probe']:.2f} s | {med['cpu']:.2f} s | {load:.1f} |"
                )
                print(lines[-1], flush=True)
    cmd = (
        f"sudo .venv/bin/python bench/bench_probe.py --runs {args.runs} --via {args.via} "
        f"--deny {args.deny}"
    )
    section = "\n".join(
        [
            BEGIN,
            "## podnet probe (bench/bench_probe.py, Brief J)",
            "",
            f"Machine: {machine()}. Command: `{cmd} --write`.",
            "",
            "Case: netpol-e2e 015 (9 pods in x, y, z; ports 80 and 81 TCP; 144 probes, "
            "13 denied). With `--deny drop` (the default, as most CNIs) a denied probe "
            "waits the full 1 s timeout; `--deny reject` answers at once. "
            "Wall clock of `python -m podnet probe -f case.yaml --via V --deny D` per run, "
            "fresh process, start to exit; phases are medians from its progress lines; "
            "CPU is user+system of the run and every process it started (containers "
            "included), from getrusage(RUSAGE_CHILDREN).",
            "",
            *lines,
            END,
        ]
    )
    print(section)
    if args.write:
        readme = ROOT / "bench" / "README.md"
        text = readme.read_text() if readme.exists() else ""
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        readme.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
