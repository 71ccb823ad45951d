"""The ClusterRole aggregation controller: the rules as syncClusterRole computes them
(pure), and over a real registry with every controller running, the bootstrap roles'
stored rules following a role labelled ``aggregate-to-view`` as it comes, changes and
goes (view, and through ``edit``'s and ``admin``'s selectors, edit and admin too)."""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

from support.ctrl_loop import running, wait_for

from podnet.apiserver.rbac import bootstrap
from podnet.apiserver.registry import Registry
from podnet.controllers.clusterroleaggregation import (
    CLUSTER_ROLES,
    FIELD_MANAGER,
    aggregated_rules,
    same_rules,
)

Obj = dict[str, Any]
CRD_RULE = {"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get"]}


def role(name: str, labels: dict[str, str] | None = None, *rules: Obj, agg: Any = None) -> Obj:
    out: Obj = {"metadata": {"name": name, "labels": labels or {}}, "rules": list(rules)}
    if agg is not None:
        out["aggregationRule"] = {"clusterRoleSelectors": agg}
    return out


def rule(verb: str, resource: str, **extra: Any) -> Obj:
    return {"verbs": [verb], "apiGroups": [""], "resources": [resource], **extra}


def test_union_in_selector_then_name_order_without_duplicates_or_itself() -> None:
    agg = role(
        "agg",
        {"a": "1"},
        rule("get", "stale"),
        agg=[{"matchLabels": {"a": "1"}}, {"matchLabels": {"b": "1"}}],
    )
    zed = role("zed", {"a": "1"}, rule("get", "z"))
    abe = role("abe", {"a": "1"}, rule("get", "a"), rule("get", "z"))
    bee = role("bee", {"b": "1"}, rule("list", "b"), rule("get", "a", resourceNames=[]))
    other = role("other", {"c": "1"}, rule("get", "c"))
    got = aggregated_rules(agg, [zed, other, agg, bee, abe])
    # selector 1: abe, zed (by name; agg itself skipped); selector 2: bee, whose second
    # rule is abe's (an empty list is no list: Semantic.DeepEqual)
    assert got == [rule("get", "a"), rule("get", "z"), rule("list", "b")]
    assert same_rules(
        got, [rule("get", "a", resourceNames=None), rule("get", "z"), rule("list", "b")]
    )
    assert not same_rules(got, list(reversed(got)))


def test_empty_selector_matches_every_role_and_none_matches_nothing() -> None:
    everyone = role("all", {}, agg=[{}])
    assert aggregated_rules(everyone, [everyone, role("x", {}, rule("get", "x"))]) == [
        rule("get", "x")
    ]
    assert aggregated_rules(role("none", {}, agg=[]), [role("x", {}, rule("get", "x"))]) == []
    assert aggregated_rules(role("plain", {}, rule("get", "p")), []) == []


def test_bootstrap_roles_are_at_the_controllers_fixpoint() -> None:
    """The default admin/edit/view are created with the rules the controller computes
    from them: a fresh cluster's start rewrites none."""
    roles = bootstrap.filled(bootstrap.cluster_roles())
    aggregated = [r for r in roles if "aggregationRule" in r]
    assert sorted(r["metadata"]["name"] for r in aggregated) == ["admin", "edit", "view"]
    for r in aggregated:
        assert r["rules"] and same_rules(aggregated_rules(r, roles), r["rules"])


def _rules(registry: Registry, name: str) -> list[Obj]:
    return list(registry.get(CLUSTER_ROLES, None, name).get("rules") or [])


def _holds(registry: Registry, name: str, rule: Obj) -> bool:
    return rule in _rules(registry, name)


def _is(registry: Registry, name: str, rules: list[Obj]) -> bool:
    return _rules(registry, name) == rules


def test_bootstrap_roles_follow_a_labelled_role() -> None:
    with running(nodes=1) as (registry, _):

        def get(plural: str, name: str) -> Obj | None:
            found = registry.store.get(CLUSTER_ROLES.key(None, name))
            return found if plural == "clusterroles" else None

        def create(plural: str, obj: Obj) -> None:
            if plural == "clusterroles":
                registry.create(CLUSTER_ROLES, None, copy.deepcopy(obj))

        bootstrap.ensure(get, create, lambda plural, obj: None)
        # the roles are created one by one while the controller runs: admin, made
        # before the roles it matches, may be emptied a moment; then all settle at the
        # bootstrap's rules (the fixpoint, above)
        filled = {r["metadata"]["name"]: r for r in bootstrap.filled(bootstrap.cluster_roles())}
        before = {n: list(filled[n]["rules"]) for n in ("view", "edit", "admin")}
        for name in ("view", "edit", "admin"):
            wait_for(partial(_is, registry, name, before[name]), what=f"{name} settled")
        assert CRD_RULE not in before["view"]
        labels = {bootstrap.TO_VIEW: "true"}
        registry.create(
            CLUSTER_ROLES,
            None,
            {"metadata": {"name": "crontab-view", "labels": labels}, "rules": [CRD_RULE]},
        )
        for name in ("view", "edit", "admin"):  # edit has view's rules, admin edit's
            wait_for(partial(_holds, registry, name, CRD_RULE), what=f"{name} aggregated")
        view = registry.get(CLUSTER_ROLES, None, "view")
        managers = [m.get("manager") for m in view["metadata"].get("managedFields") or ()]
        assert FIELD_MANAGER in managers
        # matched roles by name: crontab-view before system:aggregate-to-view
        assert _rules(registry, "view") == [CRD_RULE] + before["view"]
        # a change of the labelled role's rules reaches them; so does its deletion
        changed = {**CRD_RULE, "verbs": ["get", "list", "watch"]}
        fresh = copy.deepcopy(registry.get(CLUSTER_ROLES, None, "crontab-view"))
        fresh["rules"] = [changed]
        registry.update(CLUSTER_ROLES, None, "crontab-view", fresh)
        wait_for(lambda: changed in _rules(registry, "admin"), what="admin follows the change")
        assert CRD_RULE not in _rules(registry, "view")
        registry.delete(CLUSTER_ROLES, None, "crontab-view")
        for name in ("view", "edit", "admin"):
            wait_for(partial(_is, registry, name, before[name]), what=f"{name} back")
        # a hand edit of an aggregated role's rules is put back
        fresh = copy.deepcopy(registry.get(CLUSTER_ROLES, None, "view"))
        fresh["rules"] = [rule("delete", "secrets")]
        registry.update(CLUSTER_ROLES, None, "view", fresh)
        wait_for(lambda: _rules(registry, "view") == before["view"], what="view put back")
