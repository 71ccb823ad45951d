"""The ``podnet`` command: a thin shell over the library (STYLE.md principle 15).

Each verb lives in its own module under :mod:`podnet.cli` that defines
``register(subparsers)``; the module's parser sets ``func`` to a callable taking the
parsed arguments and returning the exit code. Modules are discovered, so adding a verb
never edits this file.

Exit codes follow kubectl: 0 success, 1 a failure the user caused or asked to be told
about (bad input, disagreement, findings), 2 usage errors (argparse's own).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import cast

import podnet
import podnet.cli
from podnet.cli.common import reset_warnings
from podnet.errors import PodnetError

_NOT_VERBS = {"main", "output", "common"}


def _verb_modules(argv: Sequence[str] | None) -> list[str]:
    """The verb modules to import: only the invoked one when argv names one (each verb
    imports its own stack, e.g. the live cluster, which other verbs need not pay for),
    else all of them (for ``--help`` and the "invalid choice" message)."""
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(podnet.cli.__path__)
        if m.name not in _NOT_VERBS and not m.name.startswith("_")
    )
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    return [first] if first in names else names


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podnet",
        description="Kubernetes pod networking, for real, on one Linux machine.",
    )
    parser.add_argument("--version", action="version", version=f"podnet {podnet.__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for name in _verb_modules(argv):
        module = importlib.import_module(f"podnet.cli.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    reset_warnings()
    try:
        return cast(Callable[[argparse.Namespace], int], func)(args)
    except PodnetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
