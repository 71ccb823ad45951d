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


def parse_quantity(text: str) -> Fraction:
    """The exact value of ``text``; ValueError with the server's message if malformed."""
    m = _SHAPE.fullmatch(text)
    if m is None or (not m.group(2) and m.group(3) is None):  # no [0-9.] at all
        raise ValueError(ERR_FORMAT)
    sign, whole, frac, suffix = m.groups()
    value = Fraction(int(whole or "0")) + (
        Fraction(int(frac), 10 ** len(frac)) if frac else Fraction(0)
    )
    if sign == "-":
        value = -value
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix]
    if suffix in _BINARY:
        return value * (1 << _BINARY[suffix])
    exp = _EXPONENT.fullmatch(suffix)
    if exp is None:
        raise ValueError(ERR_SUFFIX)
    return value * Fraction(10) ** int(exp.group(1))
