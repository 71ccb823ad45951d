"""RBAC through real kubectl (1.20 and 1.37) against `podnet up`: the admin is in
system:masters; `--as`/`--as-group` impersonate a user that RBAC then authorizes
(403 with kube-apiserver's message until a binding allows it); `auth can-i` (exit 0
for yes, 1 for no, `--list`), `auth whoami`, `auth reconcile`; the review kinds are
answered, never stored; the bootstrap roles exist."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, UpCluster, podnet_up
from support.live import require_live
from support.paths import REPO

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "1") as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _ns(k: Kubectl, version: str, what: str) -> str:
    ns = f"rbac-{what}-{version.replace('.', '')}"
    k.ok("create", "namespace", ns)
    return ns


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_as_jane_forbidden_then_allowed_by_a_rolebinding(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    ns = _ns(k, version, "bind")
    done = k("get", "pods", "-n", ns, "--as", "jane")
    assert done.rc == 1
    assert (
        'Error from server (Forbidden): pods is forbidden: User "jane" cannot list '
        f'resource "pods" in API group "" in the namespace "{ns}"'
    ) in done.err
    no = k("auth", "can-i", "list", "pods", "-n", ns, "--as", "jane")
    assert (no.rc, no.out.strip()) == (1, "no")
    k.ok("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", "-n", ns)
    k.ok("create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane", "-n", ns)
    assert k("get", "pods", "-n", ns, "--as", "jane").rc == 0
    yes = k("auth", "can-i", "list", "pods", "-n", ns, "--as", "jane")
    assert (yes.rc, yes.out.strip()) == (0, "yes")
    no = k("auth", "can-i", "delete", "pods", "-n", ns, "--as", "jane")
    assert (no.rc, no.out.strip()) == (1, "no")
    # the binding is namespaced: another namespace stays closed
    assert k("get", "pods", "-n", "default", "--as", "jane").rc == 1
    # a group bound to the bootstrap `view` ClusterRole, in this namespace only
    k.ok("create", "rolebinding", "devs-view", "--clusterrole=view", "--group=dev", "-n", ns)
    assert k("get", "deployments,configmaps", "-n", ns, "--as", "bob", "--as-group", "dev").rc == 0
    denied = k("create", "configmap", "x", "-n", ns, "--as", "bob", "--as-group", "dev")
    assert denied.rc == 1 and 'User "bob" cannot create resource "configmaps"' in denied.err
    listed = k.ok("auth", "can-i", "--list", "-n", ns, "--as", "jane")
    assert any(line.split()[:1] == ["pods"] for line in listed.splitlines()), listed


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_admin_can_and_clusterrolebinding_opens_all_namespaces(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    yes = k("auth", "can-i", "create", "clusterroles")
    assert (yes.rc, yes.out.strip()) == (0, "yes")
    user = f"ann{version.replace('.', '')}"
    assert k("get", "nodes", "--as", user).rc == 1
    k.ok("create", "clusterrole", f"node-reader-{user}", "--verb=get,list", "--resource=nodes")
    k.ok(
        "create",
        "clusterrolebinding",
        f"read-nodes-{user}",
        f"--clusterrole=node-reader-{user}",
        f"--user={user}",
    )
    assert "node-0" in k.ok("get", "nodes", "--as", user)
    no = k("auth", "can-i", "delete", "nodes", "--as", user)
    assert (no.rc, no.out.strip()) == (1, "no")


def test_whoami_reflects_the_admin_and_impersonation(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    me = json.loads(k.ok("auth", "whoami", "-o", "json"))
    assert me["kind"] == "SelfSubjectReview"
    assert me["status"]["userInfo"]["username"] == "podnet-admin"
    assert "system:masters" in me["status"]["userInfo"]["groups"]
    text = k.ok("auth", "whoami", "--as", "jane", "--as-group", "dev")
    assert "jane" in text and "dev" in text and "system:authenticated" in text


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_auth_reconcile_creates_roles_and_bindings(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    ns = _ns(k, version, "reconcile")
    manifest = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: cm-editor, namespace: {ns}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: cm-editors, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-editor}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: carl}}
"""
    k.ok("auth", "reconcile", "-f", "-", stdin=manifest)
    role = k.json("get", "role", "cm-editor", "-n", ns)
    assert role["rules"][0]["resources"] == ["configmaps"]
    assert k("create", "configmap", "made", "-n", ns, "--as", "carl").rc == 0
    # again: nothing to change, still exit 0
    k.ok("auth", "reconcile", "-f", "-", stdin=manifest)


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_reviews_are_answered_never_stored(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    ssar = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}
        },
    }
    answer = json.loads(k.ok("create", "-f", "-", "-o", "json", stdin=json.dumps(ssar)))
    assert answer["status"]["allowed"] is True
    assert "resourceVersion" not in answer.get("metadata", {})
    listed = k("get", "selfsubjectaccessreviews")
    assert listed.rc == 1 and "MethodNotAllowed" in listed.err
    token = (up.data_dir / "token").read_text().strip()
    for value, authenticated in ((token, True), ("0" * 64, False)):
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": value},
        }
        got = json.loads(k.ok("create", "-f", "-", "-o", "json", stdin=json.dumps(review)))
        assert bool(got["status"].get("authenticated")) is authenticated
        if authenticated:
            assert got["status"]["user"]["username"] == "podnet-admin"


def test_bootstrap_roles_exist(up: UpCluster) -> None:
    k = up.kubectl("1.37")
    roles = k.json("get", "clusterroles", "-l", "kubernetes.io/bootstrapping=rbac-defaults")
    names = {r["metadata"]["name"] for r in roles["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user"} <= names
    assert {"system:discovery", "system:public-info-viewer"} <= names
    view = next(r for r in roles["items"] if r["metadata"]["name"] == "view")
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert view["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    binding = k.json("get", "clusterrolebinding", "cluster-admin")
    assert binding["subjects"][0]["name"] == "system:masters"


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_a_namespace_admin_cannot_grant_what_it_lacks(up: UpCluster, version: str) -> None:
    k = up.kubectl(version)
    ns = _ns(k, version, "escalate")
    user = f"dana{version.replace('.', '')}"
    k.ok("create", "rolebinding", "dana-admin", "--clusterrole=admin", f"--user={user}", "-n", ns)
    # within `admin`: fine
    k.ok("create", "role", "reader", "--verb=get", "--resource=pods", "-n", ns, "--as", user)
    k.ok("create", "rolebinding", "r", "--role=reader", "--user=x", "-n", ns, "--as", user)
    # nodes are not in `admin`: refused as kube-apiserver words it
    done = k("create", "role", "nodes", "--verb=get", "--resource=nodes", "-n", ns, "--as", user)
    assert done.rc == 1
    assert (
        f'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "{user}" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:"
    ) in done.err
    assert '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}' in done.err
    bound = k(
        "create",
        "rolebinding",
        "ca",
        "--clusterrole=cluster-admin",
        "--user=x",
        "-n",
        ns,
        "--as",
        user,
    )
    assert bound.rc == 1 and "is attempting to grant RBAC permissions" in bound.err


def test_the_docs_reader_role_grants_what_it_says(up: UpCluster) -> None:
    """docs/rbac-podnet-reader.yaml, applied and bound as docs/from-cluster.md says."""
    k = up.kubectl("1.37")
    k.ok("apply", "-f", str(REPO / "docs" / "rbac-podnet-reader.yaml"))
    k.ok(
        "create",
        "clusterrolebinding",
        "podnet-reader",
        "--clusterrole=podnet-reader",
        "--user=alice",
    )
    for verb, what, answer in (
        ("list", "networkpolicies.networking.k8s.io", "yes"),
        ("list", "endpointslices.discovery.k8s.io", "yes"),
        ("get", "nodes", "yes"),
        ("delete", "pods", "no"),
        ("list", "secrets", "no"),
    ):
        done = k("auth", "can-i", verb, what, "--all-namespaces", "--as", "alice")
        assert done.out.strip() == answer, (verb, what, done.err)
        assert done.rc == (0 if answer == "yes" else 1)
    assert k("get", "pods", "-A", "--as", "alice").rc == 0
