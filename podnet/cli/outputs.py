"""``-o FORMAT`` and the versioned JSON/YAML documents every verb prints (docs/output-contract.md).

Each machine-readable document starts with ``apiVersion: podnet.dev/v1`` and a ``kind``,
as Kubernetes objects do, so a reader can check what it got and which version of the
contract it follows. Keys are snake_case; a connection's ends are ``from`` and ``to`` in
every verb. ``-o`` is always a format, never a file (kubectl's meaning).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import yaml

API_VERSION = "podnet.dev/v1"

FORMATS = {
    "table": "a table for people (the default)",
    "text": "the explanation for people (the default)",
    "wide": "the same with more columns or detail",
    "json": f"a JSON document (apiVersion {API_VERSION}, docs/output-contract.md)",
    "yaml": "the same document as YAML",
    "name": "kubectl's resource/name, one a line",
    "csv": "allowed flows as CSV (netpol-analyzer's columns)",
    "md": "allowed flows as a Markdown table",
    "dot": "allowed flows as a Graphviz graph (dot -Tsvg)",
}


def add_output_flag(parser: argparse.ArgumentParser, choices: Sequence[str], default: str) -> None:
    """``-o/--output FORMAT``, its choices explained in the help."""
    listed = "; ".join(f"{c}: {FORMATS[c]}" for c in choices)
    parser.add_argument(
        "-o",
        "--output",
        choices=list(choices),
        default=default,
        metavar="FORMAT",
        help=f"output format, one of {', '.join(choices)} ({listed})",
    )


def document(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``{"apiVersion": "podnet.dev/v1", "kind": kind, **body}``."""
    return {"apiVersion": API_VERSION, "kind": kind, **body}


def write_document(kind: str, body: Mapping[str, Any], fmt: str, out: TextIO | None = None) -> None:
    """Print the versioned document as ``json`` (2-space indent) or ``yaml``."""
    out = out or sys.stdout
    data = document(kind, body)
    if fmt == "yaml":
        yaml.safe_dump(data, out, sort_keys=False, default_flow_style=False, allow_unicode=True)
    else:
        json.dump(data, out, indent=2)
        out.write("\n")
