"""Resource quantities (``cpu: 500m``, ``memory: 1Gi``) parsed as the API server does.

Follows k8s.io/apimachinery/pkg/api/resource quantity.go: ``parseQuantityString``
splits sign, digits, fraction and suffix (suffix characters from ``eEinumkKMGTP``,
then an optional signed exponent), anything left over is ``ErrFormatWrong``; the
suffix must then be a decimal SI one (n u m "" k M G T P E), a binary SI one
(Ki ... Ei) or ``e``/``E`` with an integer exponent (suffix.go), else ``ErrSuffix``.
The value is exact (a Fraction), so requests and limits compare as the server's do.
"""

from __future__ import annotations

import re
from fractions import Fraction

# ErrFormatWrong's text: the regular expression the server quotes back to the user.
FORMAT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{FORMAT_RE}'"
ERR_SUFFIX = "unable to parse quantity's suffix"

# parseQuantityString: digits, an optional "." and digits, then the suffix.
_SHAPE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_EXPONENT = re.compile(r"[eE]([-+]?[0-9]+)")


MAX = 2**63 - 1  # "no quantity may represent a number greater than 2^63-1": capped
_DIGITS = 40  # more integer digits than this are past MAX; more decimals, below 1n


def parse_quantity(text: str) -> Fraction:
    """The value of ``text``, capped at +-(2^63-1) as the API server caps it; ValueError
    with the server's message if malformed. Work is bounded by the length of ``text``
    whatever its digits and exponent (hostile input: ``1e999999999``)."""
    m = _SHAPE.fullmatch(text)
    if m is None or (not m.group(2) and m.group(3) is None):  # no [0-9.] at all
        raise ValueError(ERR_FORMAT)
    sign, whole, frac, suffix = m.groups()
    if suffix in _DECIMAL:
        scale, base = _DECIMAL[suffix], 10
    elif suffix in _BINARY:
        scale, base = _BINARY[suffix], 2
    elif (exp := _EXPONENT.fullmatch(suffix)) is not None:
        digits = exp.group(1).lstrip("+-").lstrip("0") or "0"
        negative = exp.group(1).startswith("-")
        scale, base = (int(digits) if len(digits) <= 10 else 2**31), 10
        scale = -scale if negative else scale
        if not -(2**31) <= scale < 2**31:  # suffix.go: strconv.ParseInt(..., 10, 32)
            raise ValueError(ERR_SUFFIX)
        scale = max(-2 * _DIGITS, min(scale, 2 * _DIGITS))  # beyond: the cap or ~0 decides
    else:
        raise ValueError(ERR_SUFFIX)
    whole = whole.lstrip("0")
    if len(whole) > _DIGITS:
        value = Fraction(MAX)
    else:
        frac = (frac or "")[:_DIGITS]
        value = Fraction(int(whole or "0")) + Fraction(int(frac or "0"), 10 ** len(frac))
        value = min(value * Fraction(base) ** scale, Fraction(MAX))
    return -value if sign == "-" else value
