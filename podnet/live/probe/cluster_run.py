"""``podnet probe --cluster``: the two modes as library calls, each cleaning up after
itself, and the conformance report's rendering.

:func:`conformance` owns the signal handling: SIGTERM unwinds like Ctrl-C
(:class:`~podnet.live.probe.cluster_cleanup.Stopped`), and the cleanup in ``finally``
runs with both signals held, so neither a second Ctrl-C nor a SIGTERM leaves half of
it. The caller turns Stopped/KeyboardInterrupt into 128+N after everything is gone.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from podnet.analyze.conformance_case import Case, load_case
from podnet.errors import ManifestError
from podnet.kube.client import Client
from podnet.kube.errors import KubeError
from podnet.live.probe.cluster_cases import CaseRun, Conformance, Settings
from podnet.live.probe.cluster_cleanup import Created, cleanup, signals_held, stop_on_signals
from podnet.live.probe.render import format_table, summary, to_json
from podnet.live.probe.result import disagreements

Say = Callable[[str], None]


def load_cases(paths: Sequence[str]) -> list[Case]:
    """Case files, and the ``*.yaml`` of directories (not recursive), sorted by path."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(p.glob("*.yaml"))
        elif p.exists():
            files.append(p)
        else:
            raise ManifestError(f"--cases {raw}: no such file or directory")
    if not files:
        raise ManifestError("--cases: no case files found")
    return [load_case(f) for f in sorted(set(files))]


def conformance(
    client: Client, cases: Sequence[Case], settings: Settings, say: Say
) -> tuple[list[CaseRun], list[str]]:
    """Run every case; (a run for every case, cleanup errors). Cleans up on any exit.
    Only Ctrl-C/SIGTERM leave without the runs: any other failure is in them (a case's
    ``error``), so the caller always has a report to print."""
    created = Created()
    say(f"probe run {created.run_id}: {len(cases)} case(s)")
    errors: list[str] = []
    runner = Conformance(client, created, settings, say)
    try:
        with stop_on_signals():
            runs = runner.run(cases)
    finally:
        with signals_held():
            client.close()  # an interrupted request leaves the connection unusable
            try:
                errors += cleanup(client, created, say)
            except KubeError as e:
                errors.append(str(e))
            except Exception as e:  # (podnet's bug: said, and exit 1)
                say("".join(traceback.format_exception(e)).rstrip("\n"))
                errors.append(f"internal error: {type(e).__name__}: {e}")
            for line in errors:
                say(f"cleanup: {line}")
    return runs, runner.cleanup_errors + errors


def failed(runs: Sequence[CaseRun]) -> list[CaseRun]:
    return [r for r in runs if r.error or (r.report and disagreements(r.report.observations))]


def write_json(runs: Sequence[CaseRun], out: TextIO) -> None:
    cases: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for r in runs:
        row: dict[str, Any] = {"case": r.case.name, "path": r.case.path}
        if r.error:
            row["error"] = r.error
        if r.report is not None:
            row.update(to_json(r.report))
            for k, v in summary(r.report).items():
                totals[k] = totals.get(k, 0) + v
        cases.append(row)
    bad = failed(runs)
    doc = {"cases": cases, "summary": {"cases": len(runs), "failed": len(bad), **totals}}
    json.dump(doc, out, indent=2)
    out.write("\n")


def format_runs(runs: Sequence[CaseRun]) -> str:
    parts = []
    for r in runs:
        title = f"== {r.case.name} ({r.case.path})"
        if r.error:
            parts.append(f"{title}\nnot run: {r.error}")
        elif r.report is not None:
            parts.append(f"{title}\n{format_table(r.report)}")
    bad = failed(runs)
    parts.append(
        f"{len(runs) - len(bad)}/{len(runs)} case(s) agree with podnet's prediction"
        + ("; not: " + ", ".join(Path(r.case.path).stem for r in bad) if bad else "")
    )
    return "\n\n".join(parts)
