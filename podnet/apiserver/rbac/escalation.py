"""No privilege escalation through the RBAC API itself.

``pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased``:
whoever writes a Role or ClusterRole must already hold every permission it grants, or
have the ``escalate`` verb on it; whoever writes a binding must hold the bound role's
permissions, or have ``bind`` on that role. ``system:masters`` may do anything.
``Covers`` is ``pkg/registry/rbac/validation/policy_comparator.go`` (each granted rule
broken down to one group, resource, verb and name, each covered by one held rule);
the refusal lists what is missing as ``ConfirmNoEscalation`` words it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.auth import User
from podnet.apiserver.rbac.authorizer import Authorizer
from podnet.apiserver.rbac.resolver import ResolveError
from podnet.apiserver.rbac.rules import Attributes, Rule

GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}


def _list(rule: Rule, key: str) -> list[str]:
    value = rule.get(key) or []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def breakdown(rule: Rule) -> list[Rule]:
    out: list[Rule] = []
    names = _list(rule, "resourceNames")
    for group in _list(rule, "apiGroups"):
        for resource in _list(rule, "resources"):
            for verb in _list(rule, "verbs"):
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                out += [{**base, "resourceNames": [n]} for n in names] if names else [base]
    for url in _list(rule, "nonResourceURLs"):
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in _list(rule, "verbs")]
    return out


def _has_resource(owner: Sequence[str], resource: str) -> bool:
    for held in owner:
        if held == "*" or held == resource:
            return True
        # "*/scale" holds "deployments/scale"
        if held.startswith("*/") and "/" in resource and resource.endswith(held[1:]):
            return True
    return False


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: Rule) -> bool:
    verbs, groups = _list(owner, "verbs"), _list(owner, "apiGroups")
    if not ("*" in verbs or all(v in verbs for v in _list(sub, "verbs"))):
        return False
    if not ("*" in groups or all(g in groups for g in _list(sub, "apiGroups"))):
        return False
    if not all(_has_resource(_list(owner, "resources"), r) for r in _list(sub, "resources")):
        return False
    owner_urls = _list(owner, "nonResourceURLs")
    if not all(any(_url_covers(o, p) for o in owner_urls) for p in _list(sub, "nonResourceURLs")):
        return False
    owner_names, sub_names = _list(owner, "resourceNames"), _list(sub, "resourceNames")
    return not owner_names or (bool(sub_names) and all(n in owner_names for n in sub_names))


def uncovered(owner: Sequence[Rule], wanted: Sequence[Rule]) -> list[Rule]:
    """The broken-down rules of ``wanted`` that no rule of ``owner`` covers."""
    return [
        sub
        for rule in wanted
        for sub in breakdown(rule)
        if not any(rule_covers(o, sub) for o in owner)
    ]


def _q(values: list[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    parts = [
        f"{label}:{_q(_list(rule, key))}"
        for label, key in (
            ("APIGroups", "apiGroups"),
            ("Resources", "resources"),
            ("NonResourceURLs", "nonResourceURLs"),
            ("ResourceNames", "resourceNames"),
            ("Verbs", "verbs"),
        )
        if _list(rule, key)
    ]
    return "{" + ", ".join(parts) + "}"


def compact(rules: list[Rule]) -> list[Rule]:
    """``CompactRules``: simple rules on one group and resource merged, verbs joined."""
    merged: dict[tuple[str, str], Rule] = {}
    out: list[Rule] = []
    for rule in rules:
        groups, res = _list(rule, "apiGroups"), _list(rule, "resources")
        simple = len(groups) == 1 and len(res) == 1 and not rule.get("resourceNames")
        if not simple or rule.get("nonResourceURLs"):
            out.append(rule)
            continue
        key = (groups[0], res[0])
        if key in merged:
            verbs = merged[key]["verbs"]
            verbs += [v for v in _list(rule, "verbs") if v not in verbs]
        else:
            merged[key] = {"apiGroups": groups, "resources": res, "verbs": _list(rule, "verbs")}
            out.append(merged[key])
    return out


def _forbidden(plural: str, name: str, user: User, missing: list[Rule]) -> errors.ApiError:
    lines = sorted({compact_string(r) for r in compact(missing)})
    msg = (
        f'user "{user.name}" (groups={_q(list(user.groups))}) is attempting to grant RBAC '
        "permissions not currently held:\n" + "\n".join(lines)
    )
    return errors.ApiError(
        403,
        "Forbidden",
        f'{plural}.{GROUP} "{name}" is forbidden: {msg}',
        details={"name": name, "group": GROUP, "kind": plural},
    )


def check(
    authorizer: Authorizer, user: User, plural: str, namespace: str, obj: Mapping[str, Any]
) -> None:
    """Raise the 403 upstream's policy-based storage gives when ``user`` writing ``obj``
    (a Role, ClusterRole, RoleBinding or ClusterRoleBinding) would escalate."""
    if user.is_master:
        return
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    if plural in ("roles", "clusterroles"):
        escalate = Attributes(
            user, "escalate", True, namespace=namespace, api_group=GROUP, resource=plural, name=name
        )
        if authorizer.authorize(escalate).allowed:
            return
        wanted: list[Rule] = list(obj.get("rules") or ())
        if plural == "clusterroles" and isinstance(obj.get("aggregationRule"), Mapping):
            wanted = authorizer.resolver.cluster_role_rules(dict(obj))
    else:
        ref = obj.get("roleRef") or {}
        bind = Attributes(
            user,
            "bind",
            True,
            namespace=namespace,
            api_group=GROUP,
            resource=ROLE_KINDS.get(str(ref.get("kind")), ""),
            name=str(ref.get("name", "")),
        )
        if authorizer.authorize(bind).allowed:
            return
        try:
            wanted = authorizer.resolver.role_ref_rules(ref, namespace)
        except ResolveError as e:
            raise errors.ApiError(404, "NotFound", str(e)) from None
    held, _ = authorizer.resolver.rules_for(user, namespace)
    missing = uncovered(held, wanted)
    if missing:
        raise _forbidden(plural, name, user, missing)
