"""The ClusterRole aggregation controller (pkg/controller/clusterroleaggregation/
clusterroleaggregation_controller.go): a ClusterRole with an ``aggregationRule`` gets as
its ``rules`` the union of the rules of the ClusterRoles its selectors match, kept up
to date as roles come, change and go. ``admin``, ``edit`` and ``view`` aggregate the
``aggregate-to-*`` roles this way, so a CRD's role labelled
``rbac.authorization.k8s.io/aggregate-to-view: "true"`` extends ``view``.

The rules are written by server-side apply with the controller's field manager and
``force``, as upstream's ``applyClusterRoles`` does (the authorizer also aggregates at
read time: :mod:`podnet.apiserver.rbac.resolver`; this makes the stored object say so).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from podnet.apiserver.errors import ApiError
from podnet.apiserver.rbac.resolver import selector_of
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.base import Obj
from podnet.controllers.base import Controller, meta, name

CLUSTER_ROLES: Resource = by_kind("rbac.authorization.k8s.io", "ClusterRole")  # type: ignore[assignment]
FIELD_MANAGER = "clusterrole-aggregation-controller"
APPLY = "application/apply-patch+yaml"


def _semantic(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A PolicyRule as ``equality.Semantic.DeepEqual`` compares it: a missing list and
    an empty one are the same."""
    return {k: v for k, v in rule.items() if v not in (None, [], ())}


def _has(rules: Sequence[Mapping[str, Any]], rule: Mapping[str, Any]) -> bool:
    """``ruleExists``."""
    want = _semantic(rule)
    return any(_semantic(r) == want for r in rules)


def same_rules(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    return [_semantic(r) for r in a] == [_semantic(r) for r in b]


def aggregated_rules(role: Obj, cluster_roles: Sequence[Obj]) -> list[dict[str, Any]]:
    """``syncClusterRole``'s new rules: for each selector in turn, the matching
    ClusterRoles sorted by name (``byName``), the role itself left out, each of their
    stored rules once. Pure: the controller and the tests call it."""
    own = name(role)
    out: list[dict[str, Any]] = []
    rule = role.get("aggregationRule")
    if not isinstance(rule, Mapping):
        return out
    ordered = sorted(cluster_roles, key=name)
    for selector in rule.get("clusterRoleSelectors") or ():
        sel = selector_of(selector)
        for other in ordered:
            if name(other) == own or not sel.matches(meta(other).get("labels") or {}):
                continue
            for r in other.get("rules") or ():
                if isinstance(r, Mapping) and not _has(out, r):
                    out.append(dict(r))
    return out


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"

    def setup(self) -> None:
        self.roles = self.informers.get(CLUSTER_ROLES)
        self.roles.add_handler(self._on_role)

    def _on_role(self, type_: str, old: Obj | None, new: Obj | None) -> None:
        # addClusterRole / updateClusterRole / deleteClusterRole: enqueue() every
        # aggregated role (any role's change may change what any of them matches)
        for role in self.roles.objects():
            if isinstance(role.get("aggregationRule"), Mapping):
                self.queue.add(name(role))

    def sync(self, key: str) -> None:
        role = self.roles.get(key)
        if role is None or not isinstance(role.get("aggregationRule"), Mapping):
            return
        rules = aggregated_rules(role, self.roles.objects())
        if same_rules(rules, role.get("rules") or []):
            return
        body = {
            "apiVersion": CLUSTER_ROLES.group_version,
            "kind": CLUSTER_ROLES.kind,
            "metadata": {"name": key},
            "rules": rules,
        }
        try:
            self.registry.patch(
                CLUSTER_ROLES,
                None,
                key,
                APPLY,
                json.dumps(body).encode(),
                field_manager=FIELD_MANAGER,
                force=True,
            )
        except ApiError as e:
            if e.code != 404:  # gone meanwhile: its delete event comes
                raise
