"""HorizontalPodAutoscaler's API side: v1 <-> v2 conversion with the annotations v1
keeps v2's fields in (pkg/apis/autoscaling/v1/conversion.go), defaults and validation
messages as upstream's, the table row kubectl prints, and both versions over one
stored object in a real in-memory registry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podnet.apiserver import errors, tables
from podnet.apiserver.autoscaling import convert, hpa
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import by_api_version, by_kind, by_path
from podnet.apiserver.store.memory import MemoryStore

V2_SPEC: dict[str, Any] = {
    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
    "minReplicas": 1,
    "maxReplicas": 5,
    "metrics": [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50},
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


def test_by_kind_is_v2_and_both_versions_resolve() -> None:
    v2 = by_kind("autoscaling", "HorizontalPodAutoscaler")
    v1 = by_path("autoscaling", "v1", "horizontalpodautoscalers")
    assert v2 is not None and v2.version == "v2"
    assert v1 is not None and v1.prefix("ns") == v2.prefix("ns")
    assert by_api_version("autoscaling/v1", "HorizontalPodAutoscaler") is v1
    assert by_api_version("autoscaling/v2", "HorizontalPodAutoscaler") is v2


def test_v2_to_v1_and_back_round_trips() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": V2_SPEC,
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 70, "averageValue": "700m"},
                    },
                },
            ],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"}
            ],
        },
    }
    v1 = convert.to_v1(obj)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {
        "scaleTargetRef": V2_SPEC["scaleTargetRef"],
        "minReplicas": 1,
        "maxReplicas": 5,
        "targetCPUUtilizationPercentage": 50,
    }
    ann = v1["metadata"]["annotations"]
    assert json.loads(ann[convert.METRICS]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "64Mi"}}
    ]
    assert json.loads(ann[convert.BEHAVIOR]) == V2_SPEC["behavior"]
    assert json.loads(ann[convert.CONDITIONS])[0]["reason"] == "SucceededGetScale"
    assert v1["status"] == {
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentCPUUtilizationPercentage": 70,
    }
    back = convert.to_v2(v1)
    assert back["spec"] == V2_SPEC
    assert "annotations" not in back["metadata"]
    assert back["status"]["conditions"] == obj["status"]["conditions"]


def test_defaults() -> None:
    obj: dict[str, Any] = {
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "x"},
            "maxReplicas": 3,
            "behavior": {},
        }
    }
    hpa.apply_defaults(obj)
    spec = obj["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 80,
    }
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    assert spec["behavior"]["scaleUp"]["policies"] == [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ]


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        (
            {"minReplicas": 0, "maxReplicas": 2},
            ("spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"),
        ),
        ({"maxReplicas": 0}, ("spec.maxReplicas", "Invalid value: 0: must be greater than 0")),
        (
            {"minReplicas": 3, "maxReplicas": 2},
            (
                "spec.maxReplicas",
                "Invalid value: 2: must be greater than or equal to `minReplicas`",
            ),
        ),
        (
            {
                "maxReplicas": 2,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 0},
                        },
                    }
                ],
            },
            (
                "spec.metrics[0].resource.target.averageUtilization",
                "Invalid value: 0: must be greater than 0",
            ),
        ),
        (
            {"maxReplicas": 2, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 4000}}},
            (
                "spec.behavior.scaleDown.stabilizationWindowSeconds",
                "Invalid value: 4000: must be less than or equal to 3600",
            ),
        ),
    ],
)
def test_validation_messages(spec: dict[str, Any], cause: tuple[str, str]) -> None:
    obj = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, **spec}}
    assert cause in [(f, m) for _, f, m in hpa.causes(obj)]


def test_both_versions_over_one_stored_object_and_the_table_row() -> None:
    reg = Registry(MemoryStore())
    v2 = by_kind("autoscaling", "HorizontalPodAutoscaler")
    ns = by_path("", "v1", "namespaces")
    assert v2 is not None and ns is not None
    reg.create(ns, None, {"metadata": {"name": "default"}})
    v1_body = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 4,
            "targetCPUUtilizationPercentage": 50,
        },
    }
    created = reg.create(v2, "default", convert.to_v2(v1_body))
    assert created["apiVersion"] == "autoscaling/v2" and created["spec"]["minReplicas"] == 1
    with pytest.raises(errors.ApiError) as e:
        reg.create(
            v2,
            "default",
            {
                "metadata": {"name": "bad"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 0},
            },
        )
    assert e.value.code == 422
    row = tables.table(v2, [created], now=0, include_object="None")["rows"][0]["cells"]
    assert row[:6] == ["web", "Deployment/web", "cpu: <unknown>/50%", "1", 4, 0]
    created["status"] = {
        "currentReplicas": 2,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}
        ],
    }
    row = tables.table(v2, [created], now=0, include_object="None")["rows"][0]["cells"]
    assert row[2] == "cpu: 12%/50%" and row[5] == 2
