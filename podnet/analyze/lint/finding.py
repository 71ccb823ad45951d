"""A lint finding, the rules that make them, and their order (errors first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")
RULES = (
    "pod-ip-literal",
    "unknown-service-name",
    "service-selects-nothing",
    "target-port-unmatched",
    "service-port-unreachable",
    "policy-blocks-service-use",
    "dns-egress-blocked",
    "policy-selects-nothing",
    "pod-not-isolated",
)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning | info
    object: str  # Kind/namespace/name
    field: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _sort_key(f: Finding) -> tuple[int, str, int, str]:
    return (SEVERITIES.index(f.severity), f.object, RULES.index(f.rule), f.field)


def unique_sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(set(findings), key=_sort_key))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
