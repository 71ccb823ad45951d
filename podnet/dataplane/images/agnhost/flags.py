"""Go ``flag``/cobra-style command lines: ``--name=value``, ``--name value``, ``--bool``.

Both ``-name`` and ``--name`` are accepted, as Go's flag package does; a boolean flag
takes a value only with ``=`` (``--http=false``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class FlagError(ValueError):
    pass


def parse(
    argv: list[str], defaults: Mapping[str, str | int | bool]
) -> tuple[dict[str, str | int | bool], list[str]]:
    """Flags merged over ``defaults`` (typed like the default) and the positional args."""
    values: dict[str, str | int | bool] = dict(defaults)
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        if arg == "--":
            positional.extend(argv[i:])
            break
        name, eq, raw = arg.lstrip("-").partition("=")
        if name not in values:
            raise FlagError(f"unknown flag: --{name}")
        default = defaults[name]
        if isinstance(default, bool):
            if eq and raw.lower() not in ("true", "false", "1", "0", "t", "f"):
                raise FlagError(f"invalid boolean value {raw!r} for --{name}")
            values[name] = raw.lower() in ("true", "1", "t") if eq else True
            continue
        if not eq:
            if i >= len(argv):
                raise FlagError(f"flag needs an argument: --{name}")
            raw = argv[i]
            i += 1
        if isinstance(default, int):
            try:
                values[name] = int(raw)
            except ValueError as e:
                raise FlagError(f"invalid value {raw!r} for --{name}") from e
        else:
            values[name] = raw
    return values, positional


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """Go ``time.ParseDuration`` (``1s``, ``500ms``, ``1m30s``, ``0``) in seconds."""
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise FlagError(f"invalid duration {text!r}")
    return total
