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
from podnet.errors import PodnetError

_NOT_VERBS = {"main", "output", "common"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podnet",
        description="Kubernetes pod networking, for real, on one Linux machine.",
    )
    parser.add_argument("--version", action="version", version=f"podnet {podnet.__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(podnet.cli.__path__), key=lambda m: m.name):
        if info.name in _NOT_VERBS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"podnet.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return cast(Callable[[argparse.Namespace], int], func)(args)
    except PodnetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
