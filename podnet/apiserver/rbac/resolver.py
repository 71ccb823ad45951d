"""Which rules apply to a user in a namespace: ``DefaultRuleResolver.VisitRulesFor``
(``pkg/registry/rbac/validation/rule.go``).

ClusterRoleBindings first, then (for a namespaced request) the RoleBindings of that
namespace; a RoleBinding to a ClusterRole grants its rules in that namespace only. A
binding applies when one subject does: a User by name, a Group by membership, a
ServiceAccount as ``system:serviceaccount:<ns>:<name>`` (its namespace defaulting to
the binding's). A ClusterRole with an ``aggregationRule`` has the rules of the
ClusterRoles its selectors match, as the clusterrole-aggregation controller writes
them (``pkg/controller/clusterroleaggregation``; podnet's is
``podnet.controllers.clusterroleaggregation``), resolved here at read time too, so
that a role labelled a moment ago counts before the controller has written it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podnet.apiserver.auth import User
from podnet.apiserver.rbac.rules import Rule
from podnet.model.selectors import LabelSelector, Requirement

Obj = dict[str, Any]
SA_PREFIX = "system:serviceaccount:"


class PolicySource(Protocol):
    """The RBAC objects, as the authorizer's listers read them."""

    def cluster_role_bindings(self) -> Sequence[Obj]: ...
    def role_bindings(self, namespace: str) -> Sequence[Obj]: ...
    def cluster_roles(self) -> Sequence[Obj]: ...
    def cluster_role(self, name: str) -> Obj | None: ...
    def role(self, namespace: str, name: str) -> Obj | None: ...


@dataclass(frozen=True)
class StaticPolicy:
    """Lists of objects (``validation.StaticRoles``): tests and one-shot reviews."""

    roles: Sequence[Obj] = ()
    role_bindings_: Sequence[Obj] = ()
    cluster_roles_: Sequence[Obj] = ()
    cluster_role_bindings_: Sequence[Obj] = ()

    def cluster_role_bindings(self) -> Sequence[Obj]:
        return self.cluster_role_bindings_

    def role_bindings(self, namespace: str) -> Sequence[Obj]:
        return [b for b in self.role_bindings_ if _meta(b).get("namespace") == namespace]

    def cluster_roles(self) -> Sequence[Obj]:
        return self.cluster_roles_

    def cluster_role(self, name: str) -> Obj | None:
        return next((r for r in self.cluster_roles_ if _meta(r).get("name") == name), None)

    def role(self, namespace: str, name: str) -> Obj | None:
        for r in self.roles:
            meta = _meta(r)
            if meta.get("namespace") == namespace and meta.get("name") == name:
                return r
        return None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """``serviceaccount.MakeGroupNames``."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def split_service_account(username: str) -> tuple[str, str] | None:
    """``serviceaccount.SplitUsername``: (namespace, name) of
    ``system:serviceaccount:<ns>:<name>``, else None."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def applies_to(user: User, subject: Mapping[str, Any], namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        if not sa_namespace:
            return False
        return user.name == f"{SA_PREFIX}{sa_namespace}:{name}"
    return False


def describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


class ResolveError(Exception):
    """A binding whose role is missing: reported in a denial's reason, as upstream."""


Visitor = Callable[[str | None, Rule | None, ResolveError | None], bool]


def selector_of(value: Any) -> LabelSelector:
    if not isinstance(value, Mapping):
        return LabelSelector()
    labels = value.get("matchLabels") or {}
    exprs = [
        Requirement(str(e.get("key", "")), str(e.get("operator", "")), tuple(e.get("values") or ()))
        for e in value.get("matchExpressions") or ()
        if isinstance(e, Mapping)
    ]
    return LabelSelector(tuple(sorted(labels.items())), tuple(exprs))


class RuleResolver:
    def __init__(self, source: PolicySource) -> None:
        self.source = source

    def cluster_role_rules(self, role: Obj, _seen: frozenset[str] = frozenset()) -> list[Rule]:
        """Its rules, or for an aggregated ClusterRole the union of the matched roles'
        rules in name order, without duplicates (``clusterroleaggregation_controller.go``)."""
        aggregation = role.get("aggregationRule")
        if not isinstance(aggregation, Mapping):
            return list(role.get("rules") or ())
        name = str(_meta(role).get("name", ""))
        seen = _seen | {name}
        out: list[Rule] = []
        selectors = [selector_of(s) for s in aggregation.get("clusterRoleSelectors") or ()]
        candidates = sorted(self.source.cluster_roles(), key=lambda r: str(_meta(r).get("name")))
        for sel in selectors:
            for other in candidates:
                other_name = str(_meta(other).get("name", ""))
                if other_name in seen or not sel.matches(_meta(other).get("labels") or {}):
                    continue
                for rule in self.cluster_role_rules(other, seen):
                    if rule not in out:
                        out.append(rule)
        return out

    def role_ref_rules(self, ref: Mapping[str, Any], namespace: str) -> list[Rule]:
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        if kind == "Role":
            role = self.source.role(namespace, name)
            if role is None:
                raise ResolveError(f'role.rbac.authorization.k8s.io "{name}" not found')
            return list(role.get("rules") or ())
        if kind == "ClusterRole":
            crole = self.source.cluster_role(name)
            if crole is None:
                raise ResolveError(f'clusterrole.rbac.authorization.k8s.io "{name}" not found')
            return self.cluster_role_rules(crole)
        raise ResolveError(f'unsupported role reference kind: "{kind}"')

    def _bindings(self, user: User, namespace: str) -> Iterator[tuple[Obj, Mapping[str, Any]]]:
        for binding in self.source.cluster_role_bindings():
            subject = _first_subject(user, binding, "")
            if subject is not None:
                yield binding, subject
        if namespace:
            for binding in self.source.role_bindings(namespace):
                subject = _first_subject(user, binding, namespace)
                if subject is not None:
                    yield binding, subject

    def visit_rules_for(self, user: User, namespace: str, visit: Visitor) -> None:
        for binding, subject in self._bindings(user, namespace):
            meta = _meta(binding)
            ref = binding.get("roleRef") or {}
            binding_ns = str(meta.get("namespace") or "")
            try:
                rules = self.role_ref_rules(ref, binding_ns)
            except ResolveError as e:
                if not visit(None, None, e):
                    return
                continue
            if binding_ns:
                source = (
                    f'RoleBinding "{meta.get("name")}/{binding_ns}" of {ref.get("kind")} '
                    f'"{ref.get("name")}" to {describe_subject(subject, binding_ns)}'
                )
            else:
                source = (
                    f'ClusterRoleBinding "{meta.get("name")}" of {ref.get("kind")} '
                    f'"{ref.get("name")}" to {describe_subject(subject, "")}'
                )
            for rule in rules:
                if not visit(source, rule, None):
                    return

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[ResolveError]]:
        """Every rule that applies, and the resolution errors (SelfSubjectRulesReview)."""
        rules: list[Rule] = []
        errors: list[ResolveError] = []

        def collect(_: str | None, rule: Rule | None, err: ResolveError | None) -> bool:
            if rule is not None:
                rules.append(rule)
            if err is not None:
                errors.append(err)
            return True

        self.visit_rules_for(user, namespace, collect)
        return rules, errors


def _first_subject(user: User, binding: Obj, namespace: str) -> Mapping[str, Any] | None:
    for subject in binding.get("subjects") or ():
        if isinstance(subject, Mapping) and applies_to(user, subject, namespace):
            return subject
    return None
