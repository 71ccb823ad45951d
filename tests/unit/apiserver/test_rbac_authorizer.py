"""The RBAC authorizer as pure functions over lists of objects (StaticPolicy): rule
matching, binding subjects, RoleBinding to a ClusterRole, aggregation, masters, the
reasons and the 403 message, impersonation."""

from __future__ import annotations

from typing import Any

import pytest

from podnet.apiserver import errors
from podnet.apiserver.auth import ADMIN, User
from podnet.apiserver.rbac import bootstrap
from podnet.apiserver.rbac.authorizer import Authorizer, forbidden
from podnet.apiserver.rbac.impersonation import impersonate
from podnet.apiserver.rbac.resolver import StaticPolicy
from podnet.apiserver.rbac.rules import Attributes, rule_allows

JANE = User("jane", ("dev", "system:authenticated"))
G = "rbac.authorization.k8s.io"


def _role(name: str, rules: list[dict[str, Any]], ns: str = "default") -> dict[str, Any]:
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules}


def _crole(name: str, rules: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    return {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules}


def _rb(name: str, kind: str, role: str, *subjects: dict[str, str], ns: str = "default") -> Any:
    return {
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": G, "kind": kind, "name": role},
        "subjects": list(subjects),
    }


def _crb(name: str, role: str, *subjects: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }


def _res(user: User, verb: str, resource: str, ns: str = "default", **kw: str) -> Attributes:
    return Attributes(user, verb, True, namespace=ns, resource=resource, **kw)


POD_READER = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}


@pytest.mark.parametrize(
    ("rule", "attrs", "allowed"),
    [
        (POD_READER, _res(JANE, "list", "pods"), True),
        (POD_READER, _res(JANE, "delete", "pods"), False),
        (POD_READER, _res(JANE, "list", "pods", api_group="apps"), False),
        (POD_READER, _res(JANE, "get", "pods", subresource="log"), False),
        (
            {**POD_READER, "resources": ["pods/log"]},
            _res(JANE, "get", "pods", subresource="log"),
            True,
        ),
        (
            {**POD_READER, "resources": ["*/log"]},
            _res(JANE, "get", "pods", subresource="log"),
            True,
        ),
        ({**POD_READER, "resources": ["*"]}, _res(JANE, "get", "nodes", ""), True),
        ({**POD_READER, "resourceNames": ["a"]}, _res(JANE, "get", "pods", name="a"), True),
        ({**POD_READER, "resourceNames": ["a"]}, _res(JANE, "get", "pods", name="b"), False),
        ({**POD_READER, "resourceNames": ["a"]}, _res(JANE, "list", "pods"), False),
        ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, _res(JANE, "watch", "x"), True),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            Attributes(JANE, "get", False, path="/healthz"),
            True,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/apis/*"]},
            Attributes(JANE, "get", False, path="/apis/apps"),
            True,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/apis/*"]},
            Attributes(JANE, "get", False, path="/api"),
            False,
        ),
        (POD_READER, Attributes(JANE, "get", False, path="/pods"), False),
    ],
)
def test_one_rule(rule: dict[str, Any], attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


def test_a_rolebinding_grants_in_its_namespace_only() -> None:
    policy = StaticPolicy(
        roles=[_role("pod-reader", [POD_READER])],
        role_bindings_=[_rb("read", "Role", "pod-reader", {"kind": "User", "name": "jane"})],
    )
    authz = Authorizer(policy)
    yes = authz.authorize(_res(JANE, "list", "pods"))
    assert yes.allowed
    assert yes.reason == (
        'RBAC: allowed by RoleBinding "read/default" of Role "pod-reader" to User "jane"'
    )
    assert not authz.authorize(_res(JANE, "list", "pods", ns="other")).allowed
    assert not authz.authorize(_res(JANE, "list", "pods", ns="")).allowed
    assert not authz.authorize(_res(User("joe"), "list", "pods")).allowed


def test_a_rolebinding_to_a_clusterrole_is_scoped_to_the_namespace() -> None:
    policy = StaticPolicy(
        cluster_roles_=[_crole("reader", [POD_READER])],
        role_bindings_=[_rb("r", "ClusterRole", "reader", {"kind": "Group", "name": "dev"})],
    )
    authz = Authorizer(policy)
    assert authz.authorize(_res(JANE, "get", "pods")).allowed
    assert not authz.authorize(_res(JANE, "get", "pods", ns="kube-system")).allowed


def test_service_account_subjects_default_to_the_binding_namespace() -> None:
    sa = User("system:serviceaccount:default:robot", ("system:serviceaccounts",))
    policy = StaticPolicy(
        roles=[_role("pod-reader", [POD_READER])],
        role_bindings_=[
            _rb("r", "Role", "pod-reader", {"kind": "ServiceAccount", "name": "robot"})
        ],
    )
    decision = Authorizer(policy).authorize(_res(sa, "list", "pods"))
    assert decision.allowed
    assert decision.reason.endswith('to ServiceAccount "robot/default"')
    other = User("system:serviceaccount:other:robot")
    assert not Authorizer(policy).authorize(_res(other, "list", "pods")).allowed


def test_a_missing_role_is_named_in_the_denial() -> None:
    policy = StaticPolicy(
        cluster_role_bindings_=[_crb("b", "ghost", {"kind": "User", "name": "jane"})],
    )
    decision = Authorizer(policy).authorize(_res(JANE, "list", "pods"))
    assert not decision.allowed
    assert decision.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found'


def test_masters_are_always_allowed_without_any_binding() -> None:
    assert Authorizer(StaticPolicy()).authorize(_res(ADMIN, "delete", "nodes", ns="")).allowed


def test_aggregation_follows_labels_through_levels() -> None:
    roles = bootstrap.cluster_roles()
    extra = _crole(
        "widgets-view",
        [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}],
        **{bootstrap.TO_VIEW: "true"},
    )
    policy = StaticPolicy(
        cluster_roles_=[*roles, extra],
        role_bindings_=[_rb("a", "ClusterRole", "admin", {"kind": "User", "name": "jane"})],
    )
    authz = Authorizer(policy)
    # admin <- edit <- view <- widgets-view, and admin's own aggregate-to-admin rules
    widgets = _res(JANE, "get", "widgets", api_group="example.com")
    assert authz.authorize(widgets).allowed
    assert authz.authorize(_res(JANE, "create", "rolebindings", api_group=G)).allowed
    assert authz.authorize(_res(JANE, "get", "pods", subresource="log")).allowed
    assert not authz.authorize(_res(JANE, "create", "clusterroles", ns="", api_group=G)).allowed


def test_bootstrap_roles_give_every_user_discovery_and_self_reviews() -> None:
    policy = StaticPolicy(
        cluster_roles_=bootstrap.filled(bootstrap.cluster_roles()),
        cluster_role_bindings_=bootstrap.cluster_role_bindings(),
    )
    authz = Authorizer(policy)
    assert authz.authorize(Attributes(JANE, "get", False, path="/apis/apps/v1")).allowed
    ssar = _res(JANE, "create", "selfsubjectaccessreviews", ns="")
    assert authz.authorize(
        Attributes(**{**ssar.__dict__, "api_group": "authorization.k8s.io"})
    ).allowed
    assert not authz.authorize(_res(JANE, "list", "pods")).allowed
    view = next(r for r in policy.cluster_roles() if r["metadata"]["name"] == "view")
    assert {
        "verbs": ["get", "list", "watch"],
        "apiGroups": [""],
        "resources": ["namespaces"],
    } in view["rules"]
    assert view["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


def test_the_403_message_is_upstreams() -> None:
    err = forbidden(_res(JANE, "list", "pods"), "")
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
        'in the namespace "default"'
    )
    err = forbidden(
        _res(JANE, "get", "deployments", ns="", api_group="apps", name="web"), "RBAC: x"
    )
    assert err.message == (
        'deployments.apps "web" is forbidden: User "jane" cannot get resource "deployments" '
        'in API group "apps" at the cluster scope: RBAC: x'
    )
    assert err.details == {"name": "web", "group": "apps", "kind": "deployments"}
    err = forbidden(Attributes(JANE, "get", False, path="/metrics"), "")
    assert err.message == 'forbidden: User "jane" cannot get path "/metrics"'


def test_impersonation_needs_the_verb_and_adds_the_groups() -> None:
    authz = Authorizer(StaticPolicy())
    as_jane = impersonate(ADMIN, [("Impersonate-User", "jane")], authz.authorize)
    assert as_jane == User("jane", ("system:authenticated",))
    sa = impersonate(
        ADMIN, [("Impersonate-User", "system:serviceaccount:ns1:bot")], authz.authorize
    )
    assert sa is not None
    assert sa.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ns1",
        "system:authenticated",
    )
    many = impersonate(
        ADMIN,
        [
            ("Impersonate-User", "jane"),
            ("Impersonate-Group", "a"),
            ("Impersonate-Group", "b"),
            ("Impersonate-Extra-Scopes", "s1"),
            ("Impersonate-Uid", "u-1"),
        ],
        authz.authorize,
    )
    assert many == User("jane", ("a", "b", "system:authenticated"), "u-1", (("scopes", ("s1",)),))
    assert impersonate(ADMIN, [("Accept", "x")], authz.authorize) is None
    with pytest.raises(errors.ApiError) as e:
        impersonate(JANE, [("Impersonate-User", "joe")], authz.authorize)
    assert e.value.code == 403
    assert e.value.message == (
        'users "joe" is forbidden: User "jane" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    with pytest.raises(errors.ApiError) as e:
        impersonate(ADMIN, [("Impersonate-Group", "a")], authz.authorize)
    assert e.value.code == 500


def test_impersonation_is_granted_by_rbac_per_name() -> None:
    rule = {
        "verbs": ["impersonate"],
        "apiGroups": [""],
        "resources": ["users"],
        "resourceNames": ["joe"],
    }
    policy = StaticPolicy(
        cluster_roles_=[_crole("imp", [rule])],
        cluster_role_bindings_=[_crb("imp", "imp", {"kind": "User", "name": "jane"})],
    )
    authz = Authorizer(policy)
    assert impersonate(JANE, [("Impersonate-User", "joe")], authz.authorize) is not None
    with pytest.raises(errors.ApiError):
        impersonate(JANE, [("Impersonate-User", "ann")], authz.authorize)
