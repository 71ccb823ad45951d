"""HorizontalPodAutoscaler against ``podnet up`` with real crun busybox containers:
``kubectl autoscale`` with kubectl 1.20 (autoscaling/v1) and 1.37 (v2), ``get hpa``
columns and targets, a Deployment with cpu requests scaled up under a busy loop and
back down once the load is gone (a short scale-down stabilization window in its
behavior); pods without requests get FailedGetResourceMetric. Every wait is bounded;
the load runs for seconds and is then deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel
NEW, OLD = KUBECTL_VERSIONS[-1], KUBECTL_VERSIONS[0]


BAD_HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: bad}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: idle}
  minReplicas: 0
  maxReplicas: 0
"""


def deployment(name: str, command: str, cpu: str | None) -> str:
    resources = f"resources: {{requests: {{cpu: {cpu}}}}}" if cpu else "resources: {}"
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: [sh, -c, '{command}']
        {resources}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("hpa")) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def replicas(k: Kubectl, name: str) -> int:
    return int(k.json("get", "deployment", name)["spec"].get("replicas", 0))


def hpa_row(k: Kubectl, name: str) -> list[str]:
    out = k.ok("get", "hpa", name)
    return out.splitlines()[1].split()


def test_autoscale_both_kubectl_versions_and_columns(up: UpCluster) -> None:
    old, new = up.kubectl(OLD), up.kubectl(NEW)
    old.ok("apply", "-f", "-", stdin=deployment("idle", "sleep 3600", "100m"))
    try:
        old.ok("autoscale", "deployment", "idle", "--cpu-percent=50", "--min=1", "--max=5")
        v1 = json.loads(
            old.ok(
                "get",
                "--raw",
                "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/idle",
            )
        )
        assert v1["apiVersion"] == "autoscaling/v1"
        assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
        v2 = new.json("get", "hpa.v2.autoscaling", "idle")
        assert v2["spec"]["metrics"] == [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50},
                },
            }
        ]
        assert v2["spec"]["minReplicas"] == 1
        for version in KUBECTL_VERSIONS:
            out = up.kubectl(version).ok("get", "hpa")
            assert out.splitlines()[0].split() == [
                "NAME",
                "REFERENCE",
                "TARGETS",
                "MINPODS",
                "MAXPODS",
                "REPLICAS",
                "AGE",
            ]
        row = eventually(
            lambda: (
                (r := hpa_row(new, "idle"))
                and "%/50%" in " ".join(r)
                and "<unknown>" not in " ".join(r)
                and r
            ),
            40,
            "a measured target",
        )
        assert row[1] == "Deployment/idle" and row[2:4] == ["cpu:", row[3]]
        assert int(row[3].split("%")[0]) <= 10, row
        status = new.json("get", "hpa", "idle")["status"]
        conds = {c["type"]: c for c in status["conditions"]}
        assert conds["AbleToScale"]["status"] == "True"
        assert conds["ScalingActive"]["reason"] == "ValidMetricFound"
        # v2 metrics in a v1 read ride in annotations
        new.ok(
            "autoscale",
            "deployment",
            "idle",
            "--cpu-percent=50",
            "--min=1",
            "--max=5",
            "--name=two",
        )
        new.ok(
            "patch",
            "hpa",
            "two",
            "--type=merge",
            "-p",
            json.dumps(
                {
                    "spec": {
                        "metrics": [
                            {
                                "type": "Resource",
                                "resource": {
                                    "name": "cpu",
                                    "target": {"type": "Utilization", "averageUtilization": 60},
                                },
                            },
                            {
                                "type": "Resource",
                                "resource": {
                                    "name": "memory",
                                    "target": {"type": "AverageValue", "averageValue": "64Mi"},
                                },
                            },
                        ],
                        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 5}},
                    }
                }
            ),
        )
        v1 = json.loads(
            old.ok(
                "get",
                "--raw",
                "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/two",
            )
        )
        assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
        ann = v1["metadata"]["annotations"]
        assert json.loads(ann["autoscaling.alpha.kubernetes.io/metrics"]) == [
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "64Mi"}}
        ]
        assert (
            json.loads(ann["autoscaling.alpha.kubernetes.io/behavior"])["scaleDown"][
                "stabilizationWindowSeconds"
            ]
            == 5
        )
        # a v1 watch sees v1 objects
        path = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
        lines = old.ok("get", "--raw", f"{path}?watch=1&timeoutSeconds=1").splitlines()
        seen = {json.loads(line)["object"]["apiVersion"] for line in lines}
        assert seen == {"autoscaling/v1"}, lines
        # a v1 client's edit keeps the v2-only fields
        old.ok(
            "patch", "hpa.v1.autoscaling", "two", "--type=merge", "-p", '{"spec":{"maxReplicas":7}}'
        )
        v2 = new.json("get", "hpa.v2.autoscaling", "two")
        assert v2["spec"]["maxReplicas"] == 7 and len(v2["spec"]["metrics"]) == 2
        assert v2["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 5
        assert "annotations" not in v2["metadata"]
        # validation as upstream
        bad = new("apply", "-f", "-", stdin=BAD_HPA)
        assert bad.rc != 0, bad
        assert bad.err.splitlines()[1:] == [
            "* spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
            "* spec.maxReplicas: Invalid value: 0: must be greater than 0",
        ], bad.err
    finally:
        new("delete", "hpa", "idle", "two", "--ignore-not-found")
        new("delete", "deployment", "idle", "--wait=false")


def test_no_requests_fails_resource_metric(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    k.ok("apply", "-f", "-", stdin=deployment("noreq", "sleep 3600", None))
    try:
        k.ok("autoscale", "deployment", "noreq", "--cpu-percent=50", "--max=3")
        cond = eventually(
            lambda: next(
                (
                    c
                    for c in (k.json("get", "hpa", "noreq").get("status") or {}).get("conditions")
                    or []
                    if c["type"] == "ScalingActive"
                    and c["status"] == "False"
                    and "missing request" in c["message"]
                ),
                None,
            ),
            40,
            "ScalingActive False",
        )
        assert cond["reason"] == "FailedGetResourceMetric"
        assert "missing request for cpu in container c of Pod noreq-" in cond["message"]
        events = k.ok("get", "events", "--field-selector", "involvedObject.name=noreq")
        assert "FailedGetResourceMetric" in events and "FailedComputeMetricsReplicas" in events
        assert hpa_row(k, "noreq")[2] == "cpu:" and "<unknown>/50%" in hpa_row(k, "noreq")[3]
    finally:
        k("delete", "hpa", "noreq", "--ignore-not-found")
        k("delete", "deployment", "noreq", "--wait=false")


BEHAVIOR = {
    "scaleDown": {
        "stabilizationWindowSeconds": 5,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}],
    }
}


def test_scales_up_under_load_and_back_down(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    # 100m requested, a busy loop uses what it gets: far above 50 % of the request
    k.ok("apply", "-f", "-", stdin=deployment("busy", "while :; do :; done", "100m"))
    try:
        k.ok("autoscale", "deployment", "busy", "--cpu-percent=50", "--min=1", "--max=3")
        k.ok(
            "patch",
            "hpa",
            "busy",
            "--type=merge",
            "-p",
            json.dumps({"spec": {"behavior": BEHAVIOR}}),
        )
        eventually(lambda: replicas(k, "busy") > 1, 60, "a scale-up")
        events = k.ok(
            "get", "events", "--field-selector", "involvedObject.name=busy,reason=SuccessfulRescale"
        )
        assert "cpu resource utilization (percentage of request) above target" in events, events
        assert "New size: " in events
        # the load goes: the pods idle (the busy loop replaced by a sleep)
        k.ok("set", "env", "deployment/busy", "IDLE=1")
        k.ok(
            "patch",
            "deployment",
            "busy",
            "--type=json",
            "-p",
            json.dumps(
                [
                    {
                        "op": "replace",
                        "path": "/spec/template/spec/containers/0/command",
                        "value": ["sleep", "3600"],
                    }
                ]
            ),
        )
        eventually(lambda: replicas(k, "busy") == 1, 90, "the scale-down")
        events = k.ok(
            "get", "events", "--field-selector", "involvedObject.name=busy,reason=SuccessfulRescale"
        )
        assert "All metrics below target" in events, events
    finally:
        k("delete", "hpa", "busy", "--ignore-not-found")
        k("delete", "deployment", "busy", "--wait=false")
