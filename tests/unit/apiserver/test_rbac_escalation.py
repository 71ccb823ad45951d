"""Escalation prevention (policybased storage): a non-master writes only roles and
bindings within what it holds, unless it has ``escalate`` or ``bind``."""

from __future__ import annotations

from typing import Any

import pytest

from podnet.apiserver import errors
from podnet.apiserver.auth import ADMIN, User
from podnet.apiserver.rbac import escalation
from podnet.apiserver.rbac.authorizer import Authorizer
from podnet.apiserver.rbac.resolver import StaticPolicy

G = "rbac.authorization.k8s.io"
JANE = User("jane", ("system:authenticated",))
PODS_RW = {"verbs": ["get", "list", "delete"], "apiGroups": [""], "resources": ["pods", "pods/log"]}


def _policy(*extra_rules: dict[str, Any]) -> Authorizer:
    return Authorizer(
        StaticPolicy(
            roles=[
                {"metadata": {"name": "r", "namespace": "ns"}, "rules": [PODS_RW, *extra_rules]}
            ],
            role_bindings_=[
                {
                    "metadata": {"name": "b", "namespace": "ns"},
                    "roleRef": {"apiGroup": G, "kind": "Role", "name": "r"},
                    "subjects": [{"kind": "User", "name": "jane"}],
                }
            ],
            cluster_roles_=[
                {
                    "metadata": {"name": "view-nodes"},
                    "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}],
                }
            ],
        )
    )


def _role(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "mine", "namespace": "ns"}, "rules": list(rules)}


def test_a_role_within_what_jane_holds_is_fine() -> None:
    authz = _policy()
    ok = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"], "resourceNames": ["a"]}
    escalation.check(authz, JANE, "roles", "ns", _role(ok))


def test_more_than_held_is_forbidden_with_the_missing_rules_listed() -> None:
    authz = _policy()
    too_much = {
        "verbs": ["get", "create", "update"],
        "apiGroups": [""],
        "resources": ["pods", "secrets"],
    }
    with pytest.raises(errors.ApiError) as e:
        escalation.check(authz, JANE, "roles", "ns", _role(too_much))
    assert e.value.code == 403
    assert e.value.message == (
        'roles.rbac.authorization.k8s.io "mine" is forbidden: user "jane" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["create" "update"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "create" "update"]}'
    )
    # masters and the `escalate` verb skip the check
    escalation.check(authz, ADMIN, "roles", "ns", _role(too_much))
    esc = {"verbs": ["escalate"], "apiGroups": [G], "resources": ["roles"]}
    escalation.check(_policy(esc), JANE, "roles", "ns", _role(too_much))


def test_binding_needs_the_roles_permissions_or_bind() -> None:
    binding: dict[str, Any] = {
        "metadata": {"name": "x", "namespace": "ns"},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view-nodes"},
        "subjects": [{"kind": "User", "name": "bob"}],
    }
    with pytest.raises(errors.ApiError) as e:
        escalation.check(_policy(), JANE, "rolebindings", "ns", binding)
    assert (
        e.value.code == 403
        and '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}' in e.value.message
    )
    bind = {
        "verbs": ["bind"],
        "apiGroups": [G],
        "resources": ["clusterroles"],
        "resourceNames": ["view-nodes"],
    }
    escalation.check(_policy(bind), JANE, "rolebindings", "ns", binding)
    nodes = {"verbs": ["*"], "apiGroups": [""], "resources": ["nodes"]}
    escalation.check(_policy(nodes), JANE, "rolebindings", "ns", binding)
    binding["roleRef"]["name"] = "ghost"
    with pytest.raises(errors.ApiError) as e:
        escalation.check(_policy(), JANE, "rolebindings", "ns", binding)
    assert e.value.code == 404


@pytest.mark.parametrize(
    ("owner", "sub", "covered"),
    [
        (
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["get"], "apiGroups": ["x"], "resources": ["y"]},
            True,
        ),
        (
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["*/scale"]},
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/scale"]},
            True,
        ),
        (
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
            False,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]},
            {"verbs": ["get"], "nonResourceURLs": ["/logs/x"]},
            True,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/logs"]},
            {"verbs": ["get"], "nonResourceURLs": ["/logs/x"]},
            False,
        ),
    ],
)
def test_rule_covers(owner: dict[str, Any], sub: dict[str, Any], covered: bool) -> None:
    assert escalation.rule_covers(owner, sub) is covered
