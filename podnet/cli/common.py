"""Arguments and printing shared by the verbs (kubectl conventions)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import yaml


def add_file_args(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=required,
        metavar="PATH",
        help="manifest file, directory (recursive) or - for stdin; repeatable",
    )


def add_nodes_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=1, metavar="N", help="number of nodes")


def add_output_arg(parser: argparse.ArgumentParser, choices: Sequence[str], default: str) -> None:
    parser.add_argument(
        "-o", "--output", choices=list(choices), default=default, help="output format"
    )


def print_data(data: Any, fmt: str, out: TextIO | None = None) -> None:
    """Print ``data`` as ``json`` or ``yaml``."""
    out = out or sys.stdout
    if fmt == "yaml":
        yaml.safe_dump(data, out, sort_keys=False, default_flow_style=False)
    else:
        json.dump(data, out, indent=2)
        out.write("\n")


def use_colour(out: TextIO | None = None) -> bool:
    """Colour only on a terminal, as kubectl and git do."""
    out = out or sys.stdout
    return hasattr(out, "isatty") and out.isatty()
