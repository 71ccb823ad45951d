"""The ``podnet`` command: a thin shell over the library (STYLE.md principle 15).

Each verb lives in its own module under :mod:`podnet.cli` that defines
``register(subparsers)``; the module's parser sets ``func`` to a callable taking the
parsed arguments and returning the exit code. Modules are discovered, so adding a verb
never edits this file.

Global flags (--color, -v, --quiet) are accepted before or after the verb, as kubectl's
are; they are added to every verb's parser here, so no verb declares them.

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
from podnet.cli.common import reset_warnings, set_globals
from podnet.errors import PodnetError
from podnet.text import COLOUR_MODES, plain

_NOT_VERBS = {"main", "output", "outputs", "common", "filters"}  # helpers, not verbs
COMPLETE = "__complete"  # the hidden entry point of the completion scripts (completion.py)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help reads as plain text: verbs' descriptions are their
    module docstrings, whose reST markup (roles, double backticks) would show raw.
    Subparsers are of the parent's class (argparse's add_subparsers default), so every
    verb's --help passes through here."""

    def format_help(self) -> str:
        return plain(super().format_help())

    def format_usage(self) -> str:
        return plain(super().format_usage())


def add_global_args(parser: argparse.ArgumentParser, *, verb: bool = False) -> None:
    """--color, -v and --quiet. On a verb's parser their default is SUPPRESS, so a flag
    given before the verb is not reset by the verb's parser (argparse copies a
    subparser's defaults over the parent's values)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if verb else value

    g = parser.add_argument_group("global options (before or after the command)")
    g.add_argument(
        "--color",
        "--colour",
        dest="color",
        choices=COLOUR_MODES,
        metavar="WHEN",
        help="colour the output: auto (a terminal, unless NO_COLOR is set or TERM=dumb), "
        "always or never",
        default=default("auto"),
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        help="more detail on stderr (progress lines)",
        default=default(0),
    )
    g.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print errors only on stderr (no warnings or progress)",
        default=default(False),
    )


def _verb_modules(argv: Sequence[str] | None) -> list[str]:
    """The verb modules to import: only the invoked one when argv names one (each verb
    imports its own stack, e.g. the live cluster, which other verbs need not pay for),
    else all of them (for ``--help`` and the "invalid choice" message)."""
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(podnet.cli.__path__)
        if m.name not in _NOT_VERBS and not m.name.startswith("_")
    )
    first, words = None, iter(argv or [])
    for word in words:
        if word in ("--color", "--colour"):
            next(words, None)  # its value, not the verb
        elif not word.startswith("-"):
            first = word
            break
    return [first] if first in names else names


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="podnet",
        description="Kubernetes pod networking, for real, on one Linux machine.",
    )
    parser.add_argument("--version", action="version", version=f"podnet {podnet.__version__}")
    add_global_args(parser)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for name in _verb_modules(argv):
        module = importlib.import_module(f"podnet.cli.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    for verb_parser in sub.choices.values():
        add_global_args(verb_parser, verb=True)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, but for a verb whose parser sets the default
    ``dashdash`` (exec), what follows the first ``--`` goes to that attribute whole, and
    the verb's options may come on either side of its positionals, as cobra splits at
    ArgsLenAtDash for kubectl exec. argparse alone would hand ``-n NS`` after POD to a
    REMAINDER command, or refuse a command after ``--`` once an optional came between."""
    verb = _verb_parser(parser, argv)
    dest = verb.get_default("dashdash") if verb is not None else None
    if verb is None or not dest:
        return parser.parse_args(argv)
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser.parse_known_args(argv[:cut])
    if extra:
        unknown = [a for a in extra if a.startswith("-")]
        if unknown:
            verb.error(f"unrecognized arguments: {' '.join(unknown)}")
        verb.error(verb.get_default("dashdash_error")(extra))
    setattr(args, dest, argv[cut + 1 :])
    return args


def _verb_parser(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> argparse.ArgumentParser | None:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    choices: dict[str, argparse.ArgumentParser] = subs[0].choices if subs else {}
    for arg in argv:
        if arg == "--":
            return None
        if arg in choices:
            return choices[arg]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == [COMPLETE]:
        from podnet.cli.completion import complete

        return complete(build_parser(), argv[1:])
    parser = build_parser(argv)
    args = parse(parser, argv)
    set_globals(colour=args.color, verbose=args.verbose, quiet=args.quiet)
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
