"""Quantities as apimachinery's ``resource.Quantity`` serialises them (canonical form,
staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go ``CanonicalizeBytes``), and
Go's ``time.Duration.String`` for the metrics' ``window``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_DECIMAL = (("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12))
_BINARY = (("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50))
_PARSE = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def nanocores(n: int) -> str:
    """``resource.NewScaledQuantity(n, resource.Nano)`` serialised (metrics-server
    pkg/storage: CPU usage in nanocores): the largest decimal suffix that keeps it exact,
    ``123456n``, ``5m``, ``1``."""
    if n == 0:
        return "0"
    best = f"{n}n"
    for suffix, exp in _DECIMAL:
        scale = 10 ** (exp + 9)
        if n % scale == 0:
            best = f"{n // scale}{suffix}"
    return best


def binary_bytes(n: int) -> str:
    """``resource.NewQuantity(n, resource.BinarySI)`` serialised (memory): the largest
    binary suffix that divides it (``1234Ki``, ``2Mi``), else plain bytes."""
    if n == 0:
        return "0"
    best = str(n)
    for suffix, shift in _BINARY:
        if n % (1 << shift) == 0:
            best = f"{n >> shift}{suffix}"
    return best


def parse(value: object) -> Decimal:
    """A quantity string (``500m``, ``64Mi``, ``1e3``, ``2``) as a number; ValueError
    when it is none (quantity.go ``ParseQuantity``)."""
    s = str(value).strip()
    for suffix in sorted(_PARSE, key=len, reverse=True):
        if suffix and s.endswith(suffix):
            try:
                return Decimal(s[: -len(suffix)]) * _PARSE[suffix]
            except InvalidOperation:
                break
    try:
        return Decimal(s)
    except InvalidOperation:
        raise ValueError(f"quantities must match the regular expression: {s!r}") from None


def milli(value: object) -> int:
    """``Quantity.MilliValue()``: rounded up, as apimachinery rounds."""
    d = parse(value) * 1000
    i = int(d)
    return i + 1 if d > i else i


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` (metav1.Duration's JSON): ``15.012s``, ``1m5s``."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    h, rest = divmod(ns, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    out = sign
    if h:
        out += f"{h}h"
    if h or m:
        out += f"{m}m"
    return out + _frac(rest, 1_000_000_000) + "s"


def _frac(n: int, size: int) -> str:
    whole, part = divmod(n, size)
    if not part:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{part:0{digits}d}".rstrip("0")
