"""Lay a DOT graph out with Graphviz's ``dot`` and keep the ``<svg>`` element.

Graphviz (Debian's ``graphviz`` package) does the layout: ranks, crossing minimisation
and spline routing around boxes, which a hand-made column layout cannot. It runs as a
subprocess with an argv list and the source on stdin. The analyzer may not import
the data plane, where podnet's other external commands are wrapped
(:mod:`podnet.dataplane.execs`), so this one call classifies its own failures the same
way: a missing program is :class:`NotSupportedError`, a failing one
:class:`CommandError`.
"""

from __future__ import annotations

import shutil
import subprocess

from podnet.errors import CommandError, NotSupportedError

DOT_TIMEOUT = 120.0  # seconds; 500 pods in 50 workloads take well under that


def layout_svg(source: str, *, program: str = "dot", timeout: float = DOT_TIMEOUT) -> str:
    """``program -Tsvg`` of ``source``, from ``<svg`` on (no XML prolog or DOCTYPE)."""
    path = shutil.which(program)
    if path is None:
        raise NotSupportedError(f"{program} not found: install Graphviz (apt install graphviz)")
    argv = [path, "-Tsvg"]
    try:
        done = subprocess.run(
            argv, input=source, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise CommandError(argv, -1, f"timed out after {timeout:.0f} s") from e
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr)
    start = done.stdout.find("<svg")
    if start < 0:
        raise CommandError(argv, 0, "no <svg> in the output")
    return done.stdout[start:].strip()
