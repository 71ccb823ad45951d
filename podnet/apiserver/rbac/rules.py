"""What a request asks (authorizer.Attributes) and whether one PolicyRule allows it.

The matchers are ``pkg/apis/rbac/v1/evaluation_helpers.go`` (VerbMatches,
APIGroupMatches, ResourceMatches with ``pods/log`` and ``*/scale``, ResourceNameMatches,
NonResourceURLMatches with a trailing ``*``) and ``RuleAllows`` in
``plugin/pkg/auth/authorizer/rbac/rbac.go``: pure functions of the rule and the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podnet.apiserver.auth import User

Rule = Mapping[str, Any]  # an rbac.authorization.k8s.io/v1 PolicyRule, as stored


@dataclass(frozen=True)
class Attributes:
    """``authorizer.AttributesRecord``: a resource request (verb, group, resource,
    subresource, namespace, name) or a non-resource one (verb, path)."""

    user: User
    verb: str
    resource_request: bool
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


def _strings(rule: Rule, key: str) -> Sequence[str]:
    value = rule.get(key) or ()
    return value if isinstance(value, (list, tuple)) else ()


def verb_matches(rule: Rule, verb: str) -> bool:
    verbs = _strings(rule, "verbs")
    return "*" in verbs or verb in verbs


def api_group_matches(rule: Rule, group: str) -> bool:
    groups = _strings(rule, "apiGroups")
    return "*" in groups or group in groups


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    """``*``, the exact ``resource[/subresource]``, or ``*/<subresource>``."""
    for want in _strings(rule, "resources"):
        if want == "*" or want == combined:
            return True
        if subresource and want == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    names = _strings(rule, "resourceNames")
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for want in _strings(rule, "nonResourceURLs"):
        if want == "*" or want == path:
            return True
        if want.endswith("*") and path.startswith(want[:-1]):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if attrs.resource_request:
        combined = attrs.resource
        if attrs.subresource:
            combined += "/" + attrs.subresource
        return (
            api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name)
        )
    return non_resource_url_matches(rule, attrs.path)
