"""CustomResourceDefinitions against a real ``podnet up`` with real clients: kubectl 1.20
and 1.37 (apply, wait --for condition=established, get with printer columns, short
names and categories, explain, scale, patch types, server-side apply, 422 causes,
selectors, deleting the CRD), helm 3 and 4 (a chart with a ``crds/`` directory and a
custom resource), and the Python client's CustomObjectsApi (create, list, patch, status,
scale, watch, delete)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.kube import Kubectl, UpCluster, eventually, helm_path, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec: {type: string, pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'}
              image: {type: string, description: the image to run}
              replicas: {type: integer, minimum: 1, maximum: 10, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
              labelSelector: {type: string}
"""
CRONTAB = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: %s}
spec: {cronSpec: "* * * * */5", image: my-awesome-cron-image}
"""


def _crd(k: Kubectl, tmp: Path) -> None:
    (tmp / "crd.yaml").write_text(CRD)
    k.ok("apply", "-f", str(tmp / "crd.yaml"))
    k.ok(
        "wait",
        "--for",
        "condition=established",
        "crd/crontabs.stable.example.com",
        "--timeout=30s",
    )


@pytest.mark.parametrize("version", ["1.20", "1.37"])
def test_kubectl_crd_lifecycle(tmp_path: Path, version: str) -> None:
    require_live()
    with podnet_up(tmp_path, "--nodes", "1") as up:
        k = up.kubectl(version)
        _crd(k, tmp_path)
        crd = k.json("get", "crd", "crontabs.stable.example.com")
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conds == {"NamesAccepted": "True", "Established": "True"}
        assert "CREATED AT" in k.ok("get", "crd")
        (tmp_path / "ct.yaml").write_text(CRONTAB % "cron-a")
        eventually(lambda: k("apply", "-f", str(tmp_path / "ct.yaml")).rc == 0, what="ct applied")
        table = k.ok("get", "ct")
        assert table.split("\n")[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
        assert table.split("\n")[1].split()[:3] == ["cron-a", "*", "*"]
        assert "crontab.stable.example.com/cron-a" in k.ok("get", "all")
        got = k.json("get", "crontabs.stable.example.com", "cron-a")
        assert got["spec"]["replicas"] == 1  # the schema's default
        assert got["metadata"]["generation"] == 1
        assert "the image to run" in k.ok("explain", "crontab.spec.image")
        k.ok("scale", "ct", "cron-a", "--replicas=3")
        got = k.json("get", "ct", "cron-a")
        assert (got["spec"]["replicas"], got["metadata"]["generation"]) == (3, 2)
        k.ok("patch", "ct", "cron-a", "--type=merge", "-p", '{"spec":{"image":"b"}}')
        done = k("patch", "ct", "cron-a", "--type=strategic", "-p", '{"spec":{"image":"c"}}')
        assert done.rc != 0 and "accepted media types include" in done.err
        bad = '{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"bad"},'
        bad += '"spec":{"cronSpec":"nope","replicas":50}}'
        done = k("create", "-f", "-", stdin=bad)
        assert done.rc != 0
        assert "spec.replicas: Invalid value: 50" in done.err
        assert "spec.cronSpec in body should match" in done.err
        k.ok("label", "ct", "cron-a", "tier=x")
        assert (
            k.ok("get", "ct", "-l", "tier=x", "-o", "name") == "crontab.stable.example.com/cron-a\n"
        )
        assert k.ok("get", "ct", "--field-selector", "metadata.name=nope", "-o", "name") == ""
        k.ok("delete", "crd", "crontabs.stable.example.com", "--timeout=30s")

        def unserved() -> bool:
            done = k("get", "--raw", "/apis/stable.example.com/v1")
            return done.rc != 0 and "NotFound" in done.err + done.out

        eventually(unserved, what="the group-version gone")
        assert "crontabs" not in k.ok("api-resources")


def test_server_side_apply_and_status(tmp_path: Path) -> None:
    require_live()
    with podnet_up(tmp_path, "--nodes", "1") as up:
        k = up.kubectl("1.37")
        _crd(k, tmp_path)
        (tmp_path / "ct.yaml").write_text(CRONTAB % "cron-s")
        eventually(
            lambda: k("apply", "--server-side", "-f", str(tmp_path / "ct.yaml")).rc == 0,
            what="server-side apply",
        )
        got = json.loads(k.ok("get", "ct", "cron-s", "-o", "json", "--show-managed-fields"))
        assert any(m["manager"] == "kubectl" for m in got["metadata"]["managedFields"])
        k.ok(
            "patch",
            "ct",
            "cron-s",
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"replicas":2,"labelSelector":"app=x"}}',
        )
        got = k.json("get", "ct", "cron-s")
        assert got["status"] == {"replicas": 2, "labelSelector": "app=x"}
        assert got["metadata"]["generation"] == 1  # a status write is no spec change
        k.ok("delete", "ct", "cron-s")


def _helm(up: UpCluster, version: str, *args: str) -> str:
    env = {
        **os.environ,
        "KUBECONFIG": str(up.kubeconfig),
        "HOME": str(up.kubeconfig.parent),
        "HELM_CACHE_HOME": str(up.kubeconfig.parent / "helm-cache"),
        "HELM_CONFIG_HOME": str(up.kubeconfig.parent / "helm-config"),
        "HELM_DATA_HOME": str(up.kubeconfig.parent / "helm-data"),
    }
    done = subprocess.run(
        [str(helm_path(version)), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("version", ["3", "4"])
def test_helm_chart_with_crds(tmp_path: Path, version: str) -> None:
    require_live()
    chart = tmp_path / "chart"
    (chart / "crds").mkdir(parents=True)
    (chart / "templates").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: cron\nversion: 0.1.0\n")
    (chart / "crds" / "crontab.yaml").write_text(CRD)
    (chart / "templates" / "ct.yaml").write_text(
        CRONTAB.replace("%s", "{{ .Release.Name }}-cron").replace("image:", "replicas: 2, image:")
    )
    with podnet_up(tmp_path, "--nodes", "1") as up:
        k = up.kubectl("1.37")
        _helm(up, version, "install", "rel", str(chart), "--wait", "--timeout", "60s")
        got = k.json("get", "ct", "rel-cron")
        assert got["spec"]["replicas"] == 2
        _helm(up, version, "uninstall", "rel", "--wait")
        assert k.ok("get", "ct", "-o", "name") == ""
        assert (
            k.ok("get", "crd", "-o", "name")
            == "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com\n"
        )


def test_python_custom_objects_api(tmp_path: Path) -> None:
    require_live()
    from kubernetes import client, config, watch

    with podnet_up(tmp_path, "--nodes", "1") as up:
        _crd(up.kubectl("1.37"), tmp_path)
        api = config.new_client_from_config(config_file=str(up.kubeconfig))  # type: ignore[no-untyped-call]
        try:
            co = client.CustomObjectsApi(api)
            g, v, p = "stable.example.com", "v1", "crontabs"
            body: dict[str, Any] = {
                "apiVersion": f"{g}/{v}",
                "kind": "CronTab",
                "metadata": {"name": "py"},
                "spec": {"cronSpec": "* * * * *", "unknown": 1},
            }
            created: Any = eventually(
                lambda: _try(lambda: co.create_namespaced_custom_object(g, v, "default", p, body)),
                what="created",
            )
            assert created["spec"] == {"cronSpec": "* * * * *", "replicas": 1}  # pruned, defaulted
            patched: Any = co.patch_namespaced_custom_object(
                g, v, "default", p, "py", {"spec": {"image": "a"}}
            )
            assert patched["metadata"]["generation"] == 2
            status: Any = co.patch_namespaced_custom_object_status(
                g, v, "default", p, "py", {"status": {"replicas": 1}}
            )
            assert status["status"] == {"replicas": 1}
            scale: Any = co.get_namespaced_custom_object_scale(g, v, "default", p, "py")
            assert scale["spec"]["replicas"] == 1
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                co.list_namespaced_custom_object, g, v, "default", p, timeout_seconds=1
            )
            seen = [(ev["type"], ev["object"]["metadata"]["name"]) for ev in stream]
            assert seen == [("ADDED", "py")]
            with pytest.raises(client.ApiException) as e:
                bad = {**body, "metadata": {"name": "bad"}, "spec": {"replicas": "x"}}
                co.create_namespaced_custom_object(g, v, "default", p, bad)
            assert e.value.status == 422
            causes: Any = json.loads(str(e.value.body))["details"]["causes"]
            assert [c["field"] for c in causes] == ["spec.replicas"]
            co.delete_namespaced_custom_object(g, v, "default", p, "py")
            left: Any = co.list_cluster_custom_object(g, v, p)
            assert left["items"] == []
        finally:
            api.close()


def _try(fn: Any) -> Any:
    from kubernetes import client

    try:
        return fn()
    except client.ApiException as e:
        if e.status == 404:  # not served yet: the discovery of a new CRD takes a moment
            return None
        raise


def test_namespace_deletion_gc_and_watch(tmp_path: Path) -> None:
    """Custom resources go with their namespace and with their owner (the garbage
    collector watches a CRD's resource once it is served); ``kubectl get -w`` streams
    them as Table rows."""
    require_live()
    with podnet_up(tmp_path, "--nodes", "1") as up:
        k = up.kubectl("1.37")
        _crd(k, tmp_path)
        k.ok("create", "namespace", "crs")
        (tmp_path / "ct.yaml").write_text(CRONTAB % "in-ns")
        eventually(
            lambda: k("apply", "-n", "crs", "-f", str(tmp_path / "ct.yaml")).rc == 0,
            what="ct in namespace",
        )
        watcher = subprocess.Popen(
            [str(k.binary), "get", "ct", "-n", "crs", "-w", "--request-timeout=20s"],
            env={**os.environ, "KUBECONFIG": str(k.kubeconfig), "HOME": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            owner = k.json("create", "configmap", "owner", "-n", "crs")
            dep = {
                "apiVersion": "stable.example.com/v1",
                "kind": "CronTab",
                "metadata": {
                    "name": "owned",
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "ConfigMap",
                            "name": "owner",
                            "uid": owner["metadata"]["uid"],
                        }
                    ],
                },
                "spec": {"cronSpec": "* * * * *"},
            }
            k.ok("create", "-n", "crs", "-f", "-", stdin=json.dumps(dep))
            k.ok("delete", "configmap", "owner", "-n", "crs")
            eventually(
                lambda: k("get", "ct", "owned", "-n", "crs").rc != 0, what="owned ct collected"
            )
            k.ok("delete", "namespace", "crs", "--timeout=30s")
            assert k.ok("get", "ct", "-A", "-o", "name") == ""
        finally:
            watcher.terminate()
            out, _ = watcher.communicate(timeout=10)
        lines = out.split("\n")
        assert lines[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
        assert any(line.startswith("owned ") for line in lines)
