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
resolver would (:mod:`podnet.analyze.explain.dns`).

Pods created by one workload share their template, so the per-pod rules look at one
pod per workload and report the workload (``Deployment/ns/web``) with template paths.
"""

from __future__ import annotations

from podnet.analyze.lint import policies, services, usage
from podnet.analyze.lint.context import LintContext, build_context
from podnet.analyze.lint.finding import Finding, unique_sorted
from podnet.model.objects import Manifests


def lint_context(ctx: LintContext) -> tuple[Finding, ...]:
    """Run every rule over an already built context."""
    found: list[Finding] = []
    found += services.check(ctx)
    found += policies.check(ctx)
    found += usage.check(ctx)
    return unique_sorted(found)


def lint(manifests: Manifests, nodes: int = 1) -> tuple[Finding, ...]:
    """All findings for ``manifests``, errors first, then by object."""
    return lint_context(build_context(manifests, nodes))
