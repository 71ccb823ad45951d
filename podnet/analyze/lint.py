"""``podnet lint``: findings about a set of manifests, each with the field and a fix.

Rules and severities (an *error* is something that will fail at run time; a *warning*
works today but is fragile or suspicious; *info* is worth knowing):

==========================  ========  =================================================
rule                        severity  meaning
==========================  ========  =================================================
pod-ip-literal              warning   a command/env uses a pod IP; it changes when the
                                      pod is recreated (the seed: "not recommended")
unknown-service-name        error     a cluster name that resolves to nothing
service-selects-nothing     warning   a Service whose selector matches no pod
target-port-unmatched       error /   a named targetPort no selected pod declares
                            warning   (error: no endpoints) / a number none serves
service-port-unreachable    error     a pod uses a Service on a port it does not expose
policy-blocks-service-use   error     NetworkPolicies deny a pod every endpoint of a
                                      Service it uses
dns-egress-blocked          error /   egress-isolated pod without UDP 53 (error) or
                            warning   TCP 53 (warning) to kube-system/kube-dns
policy-selects-nothing      warning   a NetworkPolicy whose podSelector matches no pod
pod-not-isolated            info      a pod no policy selects in a namespace with
                                      policies: it accepts and sends everything
==========================  ========  =================================================

Which host names are checked (``unknown-service-name``): single-label names, names
ending in ``.svc``/``.svc.cluster.local``/``.cluster.local``, and names whose last label
is a namespace of the cluster (``db.shop``). Any other dotted name (``api.example.com``)
is taken as external and never flagged. Names are resolved exactly as the container's
resolver would (:mod:`podnet.analyze.explain_dns`).

Pods created by one workload share their template, so the per-pod rules look at one
pod per workload and report the workload (``Deployment/ns/web``) with template paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from podnet.analyze.lint_context import LintContext, build_context
from podnet.model.objects import Manifests

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


def lint_context(ctx: LintContext) -> tuple[Finding, ...]:
    """Run every rule over an already built context."""
    from podnet.analyze import lint_policies, lint_services, lint_usage

    found: list[Finding] = []
    found += lint_services.check(ctx)
    found += lint_policies.check(ctx)
    found += lint_usage.check(ctx)
    return unique_sorted(found)


def lint(manifests: Manifests, nodes: int = 1) -> tuple[Finding, ...]:
    """All findings for ``manifests``, errors first, then by object."""
    return lint_context(build_context(manifests, nodes))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
