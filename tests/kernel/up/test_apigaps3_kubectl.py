"""API gaps closed, seen by real kubectl 1.20 and 1.37 against ``podnet up``:
``serviceaccounts/token`` in discovery; ``kubectl scale`` of a custom resource whose
scale paths are not ``.spec.replicas``; ``--validate=strict|warn|ignore`` (and the
server's default Warn) for custom resources by the CRD's schema; a CRD's ClusterRole
labelled ``aggregate-to-view`` written into ``view``, ``edit`` and ``admin`` by the
aggregation controller, and gone from them with it."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from support.kube import Kubectl, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.gaps.example.com}
spec:
  group: gaps.example.com
  scope: Namespaced
  names: {plural: pools, singular: pool, kind: Pool}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.count}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              count: {type: integer}
"""
POOL = """\
apiVersion: gaps.example.com/v1
kind: Pool
metadata: {name: %s}
spec: {size: 2, foo: 1, extra: {kept: 1}}
"""
ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: pools-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- apiGroups: [gaps.example.com]
  resources: [pools]
  verbs: [get, list, watch]
"""
POOL_RULE = {
    "apiGroups": ["gaps.example.com"],
    "resources": ["pools"],
    "verbs": ["get", "list", "watch"],
}
STRICT = 'Pool in version "v1" cannot be handled as a Pool: strict decoding error: '
STRICT += 'unknown field "spec.foo"'


def _crd(k: Kubectl, tmp: Path) -> None:
    (tmp / "crd.yaml").write_text(CRD)
    k.ok("apply", "-f", str(tmp / "crd.yaml"))
    k.ok("wait", "--for", "condition=established", "crd/pools.gaps.example.com", "--timeout=30s")
    eventually(lambda: k("get", "pools").rc == 0, what="pools served")


def _has_rule(k: Kubectl, role: str) -> bool:
    return POOL_RULE in k.json("get", "clusterrole", role).get("rules", [])


def _spec(k: Kubectl, name: str) -> object:
    return k.json("get", "pool", name)["spec"]


@pytest.mark.parametrize("version", ["1.20", "1.37"])
def test_token_scale_fields_aggregation(tmp_path: Path, version: str) -> None:
    require_live()
    with podnet_up(tmp_path, "--nodes", "1") as up:
        k = up.kubectl(version)
        # 1. serviceaccounts/token in /api/v1, as kube-apiserver lists it
        core = json.loads(k.ok("get", "--raw", "/api/v1"))
        token = next(r for r in core["resources"] if r["name"] == "serviceaccounts/token")
        assert (token["group"], token["version"], token["kind"], token["verbs"]) == (
            "authentication.k8s.io",
            "v1",
            "TokenRequest",
            ["create"],
        )
        assert not [r for r in core["resources"] if r["name"] in ("pods/binding", "services/proxy")]
        _crd(k, tmp_path)
        # 3. unknown fields by the CRD's schema (the server's; kubectl 1.20 validates
        # on its side unless --validate=false, and has no strict/warn)
        (tmp_path / "p.yaml").write_text(POOL % "p1")
        if version == "1.37":
            done = k("apply", "--validate=strict", "-f", str(tmp_path / "p.yaml"))
            assert done.rc != 0 and STRICT in done.err, done.err
            done = k("apply", "--validate=warn", "-f", str(tmp_path / "p.yaml"))
            assert done.rc == 0 and 'Warning: unknown field "spec.foo"' in done.err, done.err
            (tmp_path / "q.yaml").write_text(POOL % "p2")
            done = k("create", "--validate=ignore", "-f", str(tmp_path / "q.yaml"))
            assert done.rc == 0 and "Warning" not in done.err, done.err
            assert _spec(k, "p2") == {"size": 2, "extra": {"kept": 1}}
        else:
            done = k("apply", "--validate=false", "-f", str(tmp_path / "p.yaml"))
            # the server's default: Warn
            assert done.rc == 0 and 'Warning: unknown field "spec.foo"' in done.err, done.err
        assert _spec(k, "p1") == {"size": 2, "extra": {"kept": 1}}
        # 2. kubectl scale through the scale subresource's paths (.spec.size)
        k.ok("scale", "pool", "p1", "--replicas=3")
        assert _spec(k, "p1") == {"size": 3, "extra": {"kept": 1}}
        # 4. a CRD's role labelled aggregate-to-view extends view (and edit, admin)
        (tmp_path / "role.yaml").write_text(ROLE)
        k.ok("create", "rolebinding", "jane-view", "--clusterrole=view", "--user=jane")
        assert k("auth", "can-i", "list", "pools.gaps.example.com", "--as", "jane").rc == 1
        k.ok("apply", "-f", str(tmp_path / "role.yaml"))
        for role in ("view", "edit", "admin"):
            eventually(partial(_has_rule, k, role), what=f"{role} aggregates pools-view")
        # kubectl 1.20 shows managedFields by default; 1.21+ behind --show-managed-fields
        shown = ["--show-managed-fields"] if version != "1.20" else []
        view = json.loads(k.ok("get", "clusterrole", "view", "-o", "json", *shown))
        managers = [m["manager"] for m in view["metadata"]["managedFields"]]
        assert "clusterrole-aggregation-controller" in managers
        can = k("auth", "can-i", "list", "pools.gaps.example.com", "--as", "jane")
        assert (can.rc, can.out.strip()) == (0, "yes")
        assert k("auth", "can-i", "delete", "pools.gaps.example.com", "--as", "jane").rc == 1
        k.ok("delete", "-f", str(tmp_path / "role.yaml"))
        eventually(
            lambda: not _has_rule(k, "view"),
            what="view without pools-view",
        )
        assert k("auth", "can-i", "list", "pools.gaps.example.com", "--as", "jane").rc == 1


@pytest.mark.parametrize("version", ["1.20", "1.37"])
def test_scale_current_replicas_reads_the_crd_paths(tmp_path: Path, version: str) -> None:
    """``kubectl scale --current-replicas`` GETs the Scale and PUTs it back."""
    require_live()
    with podnet_up(tmp_path, "--nodes", "1") as up:
        k = up.kubectl(version)
        _crd(k, tmp_path)
        pool = "apiVersion: gaps.example.com/v1\nkind: Pool\nmetadata: {name: s}\nspec: {size: 4}\n"
        k.ok("create", "-f", "-", stdin=pool)
        path = "/apis/gaps.example.com/v1/namespaces/default/pools/s/scale"
        scale = json.loads(k.ok("get", "--raw", path))
        assert scale["spec"]["replicas"] == 4
        k.ok("scale", "pool", "s", "--current-replicas=4", "--replicas=5")
        assert _spec(k, "s") == {"size": 5}
        # a built-in kind the same way: the PUT of an autoscaling/v1 Scale to apps/v1
        k.ok("create", "deployment", "web", "--image=busybox", "--replicas=0")
        k.ok("scale", "deployment", "web", "--current-replicas=0", "--replicas=0")
        wrong = k("scale", "deployment", "web", "--current-replicas=3", "--replicas=1")
        assert wrong.rc == 1 and "Expected replicas to be 3, was 0" in wrong.err, wrong
