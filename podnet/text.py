"""Plain-text layout shared by every verb's output."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """kubectl-style table: upper-case headers, columns padded with three spaces."""
    cols = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(headers))]
    lines = []
    for r in cols:
        cells = [str(c).ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


# --- colour -------------------------------------------------------------------------

COLOUR_MODES = ("auto", "always", "never")


def colour_wanted(
    stream: object, mode: str = "auto", environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to write ANSI colour to ``stream``: the one decision every verb shares.

    ``always`` and ``never`` are the user's word (git's and GNU ls's ``--color``) and win
    over the environment, as no-color.org allows a command-line flag to. ``auto``: no
    colour when ``NO_COLOR`` is set to anything non-empty (https://no-color.org), when
    ``TERM=dumb`` (a terminal that cannot show escapes: Emacs shell mode, some CI), or
    when the stream is not a terminal (a pipe or file, as kubectl and git decide).
    """
    if mode == "always":
        return True
    if mode == "never":
        return False
    if mode != "auto":
        raise ValueError(f"colour mode {mode!r}: expected one of {', '.join(COLOUR_MODES)}")
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", ""):
        return False
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


# --- durations ------------------------------------------------------------------------

# Go's time.ParseDuration units (go/src/time/format.go, unitMap) in nanoseconds; kubectl's
# --timeout, --request-timeout and --since take these strings.
_NS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_DURATION = re.compile(rf"[+-]?(?:{_NUMBER}(?:ns|us|µs|μs|ms|s|m|h))+", re.ASCII)
_PLAIN = re.compile(rf"[+-]?{_NUMBER}", re.ASCII)


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``30s``, ``2m``, ``1h``, ``1m30s``, ``500ms``, ``1.5h``.

    The syntax of Go's ``time.ParseDuration`` (go/src/time/format.go): an optional sign,
    then one or more decimal numbers each with a unit (ns, us/µs, ms, s, m, h). A plain
    number is seconds, as podnet's flags always took them (and kubectl's
    ``--request-timeout=5`` does). Raises ValueError with the reason otherwise.
    """
    s = text.strip()
    if _PLAIN.fullmatch(s):
        return float(s)
    if not _DURATION.fullmatch(s):
        raise ValueError(
            f"invalid duration {text!r}: expected a number of seconds or a number with a "
            "unit (ns, us, ms, s, m, h), e.g. 30s, 2m, 1h, 1m30s, 500ms"
        )
    sign = -1.0 if s.startswith("-") else 1.0
    # Integers of nanoseconds, as Go adds them, so 1m30s is exactly 90.0 and 0.1s+0.2s
    # is 0.3 (floats of the parts would drift).
    total = sum(round(Decimal(num) * _NS[unit]) for num, unit in _PART.findall(s))
    return sign * (total / 1_000_000_000)  # int / int: correctly rounded


def format_duration(seconds: float) -> str:
    """``seconds`` as Go's ``Duration.String`` writes it (``1m30s``, ``500ms``, ``1h0m0s``,
    ``0s``), which :func:`parse_duration` reads back: for messages that echo a flag."""
    ns = round(Decimal(repr(seconds)) * 1_000_000_000)  # the float's shortest decimal
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:  # below a second Go picks the largest unit that fits
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{sign}{_decimal(ns, size)}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = f"{_decimal(rest, 1_000_000_000)}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{secs}"


def _decimal(value: int, unit: int) -> str:
    """``value / unit`` exactly, with no trailing zeros (Go's fmtFrac)."""
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


# --- help text ------------------------------------------------------------------------

# Sphinx roles (:mod:`x`, :func:`~a.b`, :py:class:`x`) and reST inline literals (``x``)
# from docstrings that double as --help text.
_ROLE = re.compile(r"(?::[\w-]+)+:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``([^`]+?)``")


def plain(text: str) -> str:
    """``text`` without reST markup, for a terminal: ``:mod:`podnet.kube``` reads
    ``podnet.kube``, ``:func:`~a.b``` reads ``b`` (Sphinx's ``~``), double backticks go."""

    def role(m: re.Match[str]) -> str:
        target = m.group(2)
        return target.rsplit(".", 1)[-1] if m.group(1) else target

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))
