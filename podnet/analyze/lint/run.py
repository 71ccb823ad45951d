"""``podnet lint``: findings about a set of manifests, each with the field and a fix.

The rules and their severities are listed in docs/analyze.md (an *error* will fail at
run time, a *warning* works today but is fragile, *info* is worth knowing).

Which host names are checked (``unknown-service-name``): single-label names, names
ending in ``.svc``/``.svc.cluster.local``/``.cluster.local``, and names whose last label
is a namespace of the cluster (``db.shop``). Any other dotted name (``api.example.com``)
is taken as external and never flagged. Names are resolved exactly as the container's
resolver would (:mod:`podnet.analyze.explain.dns`).

Pods created by one workload share their template, so the per-pod rules look at one
pod per workload and report the workload (``Deployment/ns/web``) with template paths.
"""

from __future__ import annotations

from collections.abc import Collection

from podnet.analyze.lint import cluster, cluster_reach, policies, services, usage
from podnet.analyze.lint.context import LintContext, build_context
from podnet.analyze.lint.finding import RULES, Finding, unique_sorted
from podnet.analyze.lint.locate import locate
from podnet.model.objects import Manifests


def unknown_rules(names: Collection[str]) -> list[str]:
    """The names in ``names`` that are no lint rule (for ``--disable``)."""
    return sorted(set(names) - set(RULES))


def lint_context(ctx: LintContext, disable: Collection[str] = ()) -> tuple[Finding, ...]:
    """Run every rule over an already built context, leaving out ``disable``d rules.

    Each finding carries the ``file:line`` of its field (:mod:`.locate`).
    """
    found: list[Finding] = []
    found += services.check(ctx)
    found += policies.check(ctx)
    found += usage.check(ctx)
    found += cluster.check(ctx)
    found += cluster_reach.check(ctx)
    kept = [f for f in found if f.rule not in disable]
    return unique_sorted(locate(kept, ctx.state))


def lint(
    manifests: Manifests, nodes: int = 1, disable: Collection[str] = ()
) -> tuple[Finding, ...]:
    """All findings for ``manifests``, errors first, then by object."""
    return lint_context(build_context(manifests, nodes), disable)
