"""The verdict on one request, and the 403 Status a denied one gets.

kube-apiserver's chain is the privileged-group authorizer (``system:masters`` is
allowed everything, ``authorizerfactory.NewPrivilegedGroups``) then RBAC
(``plugin/pkg/auth/authorizer/rbac/rbac.go``: the first rule that allows wins, its
binding named in the reason; a denial lists the bindings whose role is missing). The
message of the 403 is ``responsewriters.forbiddenMessage`` wrapped by
``apierrors.NewForbidden`` (``apiserver/pkg/endpoints/handlers/responsewriters/errors.go``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.rbac.resolver import PolicySource, ResolveError, RuleResolver
from podnet.apiserver.rbac.rules import Attributes, Rule, rule_allows


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer:
    def __init__(self, source: PolicySource) -> None:
        self.resolver = RuleResolver(source)

    def authorize(self, attrs: Attributes) -> Decision:
        if attrs.user.is_master:
            return Decision(True)
        allowed_by: list[str] = []
        failures: list[ResolveError] = []

        def visit(source: str | None, rule: Rule | None, err: ResolveError | None) -> bool:
            if rule is not None and source is not None and rule_allows(attrs, rule):
                allowed_by.append(source)
                return False
            if err is not None:
                failures.append(err)
            return True

        self.resolver.visit_rules_for(attrs.user, attrs.namespace, visit)
        if allowed_by:
            return Decision(True, f"RBAC: allowed by {allowed_by[0]}")
        return Decision(False, _aggregate(failures))


def _aggregate(failures: list[ResolveError]) -> str:
    """``utilerrors.NewAggregate``: one error as itself, several as ``[a, b]``."""
    if not failures:
        return ""
    if len(failures) == 1:
        return f"RBAC: {failures[0]}"
    return "RBAC: [" + ", ".join(str(f) for f in failures) + "]"


def forbidden_message(attrs: Attributes) -> str:
    who = attrs.user.name
    if not attrs.resource_request:
        return f'User "{who}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource
    if attrs.subresource:
        resource += "/" + attrs.subresource
    head = (
        f'User "{who}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}"'
    )
    if attrs.namespace:
        return f'{head} in the namespace "{attrs.namespace}"'
    return f"{head} at the cluster scope"


def forbidden(attrs: Attributes, reason: str) -> errors.ApiError:
    """``responsewriters.Forbidden``: 403 Forbidden with the resource and name asked."""
    msg = forbidden_message(attrs)
    if reason:
        msg = f"{msg}: {reason}"
    details: dict[str, Any] = {}
    if attrs.resource_request:
        if attrs.name:
            details["name"] = attrs.name
        if attrs.api_group:
            details["group"] = attrs.api_group
        details["kind"] = attrs.resource
        qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
        message = (
            f'{qualified} "{attrs.name}" is forbidden: {msg}'
            if attrs.name
            else f"{qualified} is forbidden: {msg}"
        )
    else:
        message = f"forbidden: {msg}"
    return errors.ApiError(403, "Forbidden", message, details=details)
