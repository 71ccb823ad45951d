"""A lint finding, the rules that make them, and their order (errors first).

:data:`RULE_TABLE` is the one list of rules: ``podnet lint --rules`` prints it and
docs/analyze.md carries the same rows (a test holds them equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str  # one severity, or several as "error / warning"
    meaning: str


RULE_TABLE = (
    Rule(
        "pod-ip-literal",
        "warning",
        "a command/env uses a pod IP; it changes when the pod is recreated "
        '(the seed: "not recommended")',
    ),
    Rule(
        "unknown-service-name",
        "error / warning",
        "a cluster name that resolves to nothing (warning: named only in an environment "
        "variable, which the program may treat as optional)",
    ),
    Rule("service-selects-nothing", "warning", "a Service whose selector matches no pod"),
    Rule(
        "target-port-unmatched",
        "error / warning",
        "a named targetPort no selected pod declares (error: no endpoints) / a number none serves",
    ),
    Rule(
        "service-port-unreachable",
        "error",
        "a pod uses a Service on a port it does not expose",
    ),
    Rule(
        "policy-blocks-service-use",
        "error",
        "policies (cluster tiers or NetworkPolicies) deny a pod every endpoint of a Service "
        "it uses (never its own pod: a pod cannot block access to itself)",
    ),
    Rule(
        "dns-egress-blocked",
        "error / warning",
        "egress-isolated pod without UDP 53 (error) or TCP 53 (warning) to kube-system/kube-dns",
    ),
    Rule(
        "cluster-deny-blocks-dns",
        "error / warning",
        "an Admin or Baseline Deny decides the DNS lookups (UDP 53: error, TCP 53: warning) "
        "of pods it selects to kube-system/kube-dns, and nothing above it allows them",
    ),
    Rule(
        "policy-selects-nothing",
        "warning",
        "a NetworkPolicy whose podSelector matches no pod",
    ),
    Rule(
        "cluster-rule-never-matches",
        "warning / info",
        "a cluster policy whose subject selects no pod, or a rule none of whose peers "
        "matches a namespace, pod or node that exists (warning); one such peer (info)",
    ),
    Rule(
        "cluster-priority-conflict",
        "warning",
        "two cluster policies of one tier and priority select the same pods and match the "
        "same peers with different actions: implementation-defined upstream",
    ),
    Rule(
        "baseline-deny-overridden",
        "warning",
        "a Baseline Deny that NetworkPolicies override for some pods (they isolate the pod "
        "and allow what the Deny matches)",
    ),
    Rule(
        "pod-not-isolated",
        "info",
        "a pod no policy selects in a namespace with policies: it accepts and sends everything",
    ),
    Rule(
        "cluster-pass-to-nothing",
        "info",
        "an Admin Pass for pods no NetworkPolicy isolates and no Baseline rule judges: "
        "the Pass allows",
    ),
)
RULES = tuple(r.name for r in RULE_TABLE)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning | info
    object: str  # Kind/namespace/name
    field: str
    message: str
    fix: str
    location: str = ""  # file:line of the field (or of its object), "" when unknown

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _sort_key(f: Finding) -> tuple[int, str, int, str]:
    return (SEVERITIES.index(f.severity), f.object, RULES.index(f.rule), f.field)


def unique_sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(set(findings), key=_sort_key))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
