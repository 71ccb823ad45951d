"""The default roles, created at API start when missing: kube-apiserver's post-start
hook ``rbac/bootstrap-roles`` over ``bootstrappolicy/policy.go`` (the objects as
``bootstrappolicy/testdata/cluster-roles.yaml`` and ``cluster-role-bindings.yaml``
list them), labelled ``kubernetes.io/bootstrapping=rbac-defaults`` and annotated
``rbac.authorization.kubernetes.io/autoupdate=true``.

``admin``, ``edit`` and ``view`` aggregate the ``aggregate-to-*`` roles (``edit`` is
in ``admin``, ``view`` in ``edit``); they are created with the aggregated rules, the
clusterrole-aggregation controller (:mod:`podnet.controllers.clusterroleaggregation`)
keeps them up to date, and the authorizer aggregates again at read time. A default
that exists is reconciled as upstream does: what is missing is added, nothing is
removed, and ``autoupdate: "false"`` on the stored object leaves it alone.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from podnet.apiserver.rbac.escalation import uncovered
from podnet.apiserver.rbac.resolver import RuleResolver, StaticPolicy

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
ANNOTATIONS = {AUTOUPDATE: "true"}
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"


def _rule(verbs: list[str], groups: list[str], resources: list[str]) -> Obj:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources}


def _urls(verbs: list[str], urls: list[str]) -> Obj:
    return {"verbs": verbs, "nonResourceURLs": urls}


def _role(name: str, rules: list[Obj], labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**LABELS, **(labels or {})},
            "annotations": dict(ANNOTATIONS),
        },
        "rules": rules,
    }


def _aggregated(name: str, label: str, labels: dict[str, str] | None = None) -> Obj:
    role = _role(name, [], labels)
    role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}
    return role


def _binding(name: str, *groups: str) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": dict(LABELS),
            "annotations": dict(ANNOTATIONS),
        },
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": g} for g in groups],
    }


def cluster_roles() -> list[Obj]:
    """The roles podnet bootstraps, rules as upstream's (testdata/cluster-roles.yaml)."""
    core = [""]
    return [
        _aggregated("admin", TO_ADMIN),
        _role(
            "cluster-admin",
            [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])],
        ),
        _aggregated("edit", TO_EDIT, {TO_ADMIN: "true"}),
        _role(
            "system:aggregate-to-admin",
            [
                _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
                _rule(READ_WRITE, [GROUP], ["rolebindings", "roles"]),
            ],
            {TO_ADMIN: "true"},
        ),
        _role(
            "system:aggregate-to-edit",
            [
                _rule(
                    READ,
                    core,
                    [
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                        "secrets",
                        "services/proxy",
                    ],
                ),
                _rule(["impersonate"], core, ["serviceaccounts"]),
                _rule(
                    WRITE,
                    core,
                    ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
                ),
                _rule(["create"], core, ["pods/eviction"]),
                _rule(
                    WRITE,
                    core,
                    [
                        "configmaps",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                ),
                _rule(["create"], core, ["serviceaccounts/token"]),
                _rule(
                    WRITE,
                    ["apps"],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                ),
                _rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
                _rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
                _rule(
                    WRITE,
                    ["extensions"],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "ingresses",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                    ],
                ),
                _rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
                _rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
                _rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
            ],
            {TO_EDIT: "true"},
        ),
        _role(
            "system:aggregate-to-view",
            [
                _rule(
                    READ,
                    core,
                    [
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                ),
                _rule(
                    READ,
                    core,
                    [
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                ),
                _rule(READ, core, ["namespaces"]),
                _rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
                _rule(
                    READ,
                    ["apps"],
                    [
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                ),
                _rule(
                    READ,
                    ["autoscaling"],
                    ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
                ),
                _rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
                _rule(
                    READ,
                    ["extensions"],
                    [
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                    ],
                ),
                _rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
                _rule(
                    READ,
                    ["networking.k8s.io"],
                    ["ingresses", "ingresses/status", "networkpolicies"],
                ),
            ],
            {TO_VIEW: "true"},
        ),
        _role(
            "system:auth-delegator",
            [
                _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
            ],
        ),
        _role(
            "system:basic-user",
            [
                _rule(
                    ["create"],
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ],
        ),
        _role(
            "system:discovery",
            [
                _urls(
                    ["get"],
                    [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                )
            ],
        ),
        _role(
            "system:monitoring",
            [
                _urls(
                    ["get"],
                    [
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                )
            ],
        ),
        _role(
            "system:public-info-viewer",
            [_urls(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])],
        ),
        # policy.go: the service account issuer's OIDC discovery documents
        _role(
            "system:service-account-issuer-discovery",
            [
                _urls(
                    ["get"],
                    [
                        "/.well-known/openid-configuration",
                        "/.well-known/openid-configuration/",
                        "/openid/v1/jwks",
                        "/openid/v1/jwks/",
                    ],
                )
            ],
        ),
        _aggregated("view", TO_VIEW, {TO_EDIT: "true"}),
    ]


def cluster_role_bindings() -> list[Obj]:
    """testdata/cluster-role-bindings.yaml, for the roles above."""
    return [
        _binding("cluster-admin", "system:masters"),
        _binding("system:basic-user", "system:authenticated"),
        _binding("system:discovery", "system:authenticated"),
        _binding("system:monitoring", "system:monitoring"),
        _binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
        _binding("system:service-account-issuer-discovery", "system:serviceaccounts"),
    ]


def filled(roles: list[Obj]) -> list[Obj]:
    """The aggregated roles with the rules the aggregation controller writes."""
    resolver = RuleResolver(StaticPolicy(cluster_roles_=roles))
    return [
        {**r, "rules": resolver.cluster_role_rules(r)} if "aggregationRule" in r else r
        for r in roles
    ]


def reconciled(existing: Obj, expected: Obj) -> Obj | None:
    """``reconciliation.computeReconciledRole`` / ``computeReconciledRoleBinding``
    without removal: labels and annotations the default has are added (the stored
    values win), missing rules appended (not for an aggregated role: its rules are the
    aggregation's), missing aggregation selectors and subjects added. None when nothing
    is to change or the stored object says ``autoupdate: "false"``."""
    meta = existing.get("metadata") or {}
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = copy.deepcopy(existing)
    out_meta = out.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        out_meta[key] = {**expected["metadata"].get(key, {}), **(meta.get(key) or {})}
    if expected.get("kind") == "ClusterRole":
        want_agg = expected.get("aggregationRule")
        if want_agg is not None:
            have = out.setdefault("aggregationRule", {}).setdefault("clusterRoleSelectors", [])
            have += [s for s in want_agg["clusterRoleSelectors"] if s not in have]
        else:
            rules = out.setdefault("rules", [])
            rules += uncovered(rules, expected.get("rules") or [])
    else:
        subjects = out.setdefault("subjects", [])
        subjects += [s for s in expected.get("subjects") or [] if s not in subjects]
    return None if out == existing else out


def ensure(
    get: Callable[[str, str], Obj | None],
    create: Callable[[str, Obj], None],
    update: Callable[[str, Obj], None],
) -> list[str]:
    """The post-start hook: create each missing role and binding, reconcile the ones
    that exist (``get(plural, name)``, ``create(plural, obj)``, ``update(plural,
    obj)``); returns what was written, as ``<plural>/<name>``."""
    made: list[str] = []
    todo = [("clusterroles", r) for r in filled(cluster_roles())]
    todo += [("clusterrolebindings", b) for b in cluster_role_bindings()]
    for plural, obj in todo:
        name = obj["metadata"]["name"]
        existing = get(plural, name)
        if existing is None:
            create(plural, obj)
        else:
            changed = reconciled(existing, obj)
            if changed is None:
                continue
            update(plural, changed)
        made.append(f"{plural}/{name}")
    return made
