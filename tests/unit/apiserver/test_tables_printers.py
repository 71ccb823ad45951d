"""Server-side Tables: columns and cells as kube-apiserver's printers give them
(``pkg/printers/internalversion/printers.go``), the pod STATUS cases of ``printPod``,
and ``duration.HumanDuration``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from podnet.apiserver import tables
from podnet.apiserver.resources import RESOURCES, Resource, by_kind

NOW = datetime.fromisoformat("2026-01-10T12:00:00+00:00").timestamp()
CREATED = "2026-01-10T11:55:00Z"  # 5m before NOW


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (45, "45s"),
        (119, "119s"),
        (125, "2m5s"),
        (300, "5m"),
        (45 * 60, "45m"),
        (5 * 3600 + 180, "5h3m"),
        (10 * 3600, "10h"),
        (2 * 86400, "2d"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (30 * 86400, "30d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


@pytest.mark.parametrize("r", RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.kind}")
def test_every_served_kind_has_a_table_whose_rows_fit_its_columns(r: Resource) -> None:
    obj = {
        "apiVersion": r.group_version,
        "kind": r.kind,
        "metadata": {"name": "x", "namespace": "default", "creationTimestamp": CREATED},
    }
    t = tables.table(r, [obj], now=NOW, resource_version="7")
    assert (t["kind"], t["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert t["metadata"] == {"resourceVersion": "7"}
    cols = t["columnDefinitions"]
    (row,) = t["rows"]
    assert len(row["cells"]) == len(cols)
    names = [c["name"] for c in cols]
    if r.kind != "Event":
        assert names[0] == "Name" and cols[0]["format"] == "name"
        assert row["cells"][0] == "x"
        # an age, or (rest.DefaultTableConvertor: Role, ClusterRole) the timestamp itself
        assert "5m" in row["cells"] or (names[-1], row["cells"][-1]) == ("Created At", CREATED)
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    for c in cols:
        assert set(c) == {"name", "type", "format", "description", "priority"}


def test_include_object_modes() -> None:
    obj = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    cm = res("", "ConfigMap")
    assert tables.table(cm, [obj], include_object="Object", now=NOW)["rows"][0]["object"] == obj
    assert "object" not in tables.table(cm, [obj], include_object="None", now=NOW)["rows"][0]


def headers(r: Resource, wide: bool = False) -> list[str]:
    return [c["name"].upper() for c in tables.columns(r) if wide or c["priority"] == 0]


def test_column_headers_as_kubectl_prints_them() -> None:
    assert headers(res("", "Pod")) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert headers(res("", "Pod"), wide=True)[5:] == [
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    assert headers(res("", "Service")) == [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
    ]
    assert headers(res("apps", "Deployment")) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert headers(res("apps", "Deployment"), wide=True)[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert headers(res("apps", "ReplicaSet")) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert headers(res("apps", "StatefulSet")) == ["NAME", "READY", "AGE"]
    assert headers(res("apps", "DaemonSet")) == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
        "AGE",
    ]
    assert headers(res("batch", "Job")) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert headers(res("", "Namespace")) == ["NAME", "STATUS", "AGE"]
    assert headers(res("", "Node")) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert headers(res("", "Endpoints")) == ["NAME", "ENDPOINTS", "AGE"]
    assert headers(res("discovery.k8s.io", "EndpointSlice")) == [
        "NAME",
        "ADDRESSTYPE",
        "PORTS",
        "ENDPOINTS",
        "AGE",
    ]
    assert headers(res("networking.k8s.io", "NetworkPolicy")) == ["NAME", "POD-SELECTOR", "AGE"]
    assert headers(res("", "ConfigMap")) == ["NAME", "DATA", "AGE"]
    assert headers(res("", "Secret")) == ["NAME", "TYPE", "DATA", "AGE"]
    assert headers(res("", "ServiceAccount")) == ["NAME", "SECRETS", "AGE"]
    assert headers(res("", "Event")) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert headers(res("policy.networking.k8s.io", "AdminNetworkPolicy")) == [
        "NAME",
        "PRIORITY",
        "AGE",
    ]


def cells(r: Resource, obj: dict[str, Any]) -> list[Any]:
    obj.setdefault("metadata", {}).setdefault("name", "x")
    obj["metadata"].setdefault("creationTimestamp", CREATED)
    row: list[Any] = tables.table(r, [obj], now=NOW)["rows"][0]["cells"]
    return row


def test_service_cells() -> None:
    svc = {
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "ports": [
                {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                {"port": 53, "protocol": "UDP"},
            ],
            "selector": {"app": "web", "tier": "a"},
        }
    }
    assert cells(res("", "Service"), svc)[1:] == [
        "NodePort",
        "10.96.0.10",
        "<none>",
        "80:30080/TCP,53/UDP",
        "5m",
        "app=web,tier=a",
    ]


def test_deployment_and_job_cells() -> None:
    dep = {
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert cells(res("apps", "Deployment"), dep)[1:] == [
        "2/3",
        3,
        2,
        "5m",
        "nginx",
        "nginx:1",
        "app=web",
    ]
    job = {
        "spec": {"completions": 2, "template": {"spec": {"containers": []}}},
        "status": {
            "succeeded": 2,
            "startTime": "2026-01-10T11:56:00Z",
            "completionTime": "2026-01-10T11:56:30Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert cells(res("batch", "Job"), job)[1:4] == ["Complete", "2/2", "30s"]


def test_node_endpoints_and_slice_cells() -> None:
    node = {
        "metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {"kubeletVersion": "v1.37.0"},
        },
    }
    c = cells(res("", "Node"), node)
    assert c[1:6] == ["Ready,SchedulingDisabled", "control-plane", "5m", "v1.37.0", "10.0.0.1"]
    ep = {
        "subsets": [
            {"addresses": [{"ip": f"10.244.0.{i}"} for i in range(5)], "ports": [{"port": 80}]}
        ]
    }
    assert cells(res("", "Endpoints"), ep)[1] == (
        "10.244.0.0:80,10.244.0.1:80,10.244.0.2:80 + 2 more..."
    )
    sl = {
        "addressType": "IPv4",
        "ports": [{"port": 80}],
        "endpoints": [{"addresses": ["10.244.0.7"]}],
    }
    assert cells(res("discovery.k8s.io", "EndpointSlice"), sl)[1:4] == ["IPv4", "80", "10.244.0.7"]


def running(name: str, restarts: int = 0, ready: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": CREATED}},
    }


def pod(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"containers": [{"name": "c"}], "nodeName": "node-0", **spec}
    return {"metadata": {"name": "p", "creationTimestamp": CREATED}, "spec": s, "status": status}


PENDING_INIT = {
    "phase": "Pending",
    "initContainerStatuses": [{"name": "i", "state": {"running": {}}}],
}


@pytest.mark.parametrize(
    ("obj", "ready", "status"),
    [
        (pod({"phase": "Pending"}), "0/1", "Pending"),
        (
            pod({"phase": "Running", "containerStatuses": [running("c")]}),
            "1/1",
            "Running",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "containerStatuses": [
                        {"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}
                    ],
                }
            ),
            "0/1",
            "ContainerCreating",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "c",
                            "restartCount": 4,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        }
                    ],
                }
            ),
            "0/1",
            "CrashLoopBackOff",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "containerStatuses": [
                        {"name": "c", "state": {"waiting": {"reason": "ErrImagePull"}}}
                    ],
                }
            ),
            "0/1",
            "ErrImagePull",
        ),
        (
            pod(
                {
                    "phase": "Succeeded",
                    "containerStatuses": [
                        {
                            "name": "c",
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                        }
                    ],
                }
            ),
            "0/1",
            "Completed",
        ),
        (
            pod(
                {
                    "phase": "Failed",
                    "containerStatuses": [
                        {"name": "c", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
                    ],
                }
            ),
            "0/1",
            "Error",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        {"name": "c", "state": {"terminated": {"exitCode": 137}}}
                    ],
                }
            ),
            "0/1",
            "ExitCode:137",
        ),
        (pod(PENDING_INIT, initContainers=[{"name": "i"}, {"name": "j"}]), "0/1", "Init:0/2"),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                    ],
                },
                initContainers=[{"name": "i"}],
            ),
            "0/1",
            "Init:CrashLoopBackOff",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "i", "state": {"terminated": {"exitCode": 0}}}
                    ],
                    "containerStatuses": [
                        {"name": "c", "state": {"waiting": {"reason": "PodInitializing"}}}
                    ],
                },
                initContainers=[{"name": "i"}],
            ),
            "0/1",
            "PodInitializing",
        ),
    ],
)
def test_pod_status_cases(obj: dict[str, Any], ready: str, status: str) -> None:
    c = cells(res("", "Pod"), obj)
    assert (c[1], c[2]) == (ready, status)


def test_pod_terminating_restarts_and_wide_cells() -> None:
    status = {
        "phase": "Running",
        "podIPs": [{"ip": "10.244.1.5"}],
        "containerStatuses": [
            dict(
                running("c", restarts=2),
                lastState={"terminated": {"exitCode": 1, "finishedAt": "2026-01-10T11:57:00Z"}},
            )
        ],
    }
    obj = pod(status)
    c = cells(res("", "Pod"), obj)
    assert c == [
        "p",
        "1/1",
        "Running",
        "2 (3m ago)",
        "5m",
        "10.244.1.5",
        "node-0",
        "<none>",
        "<none>",
    ]
    obj["metadata"]["deletionTimestamp"] = "2026-01-10T11:59:00Z"
    assert cells(res("", "Pod"), obj)[2] == "Terminating"


def test_succeeded_pod_row_carries_the_completed_condition() -> None:
    t = tables.table(res("", "Pod"), [pod({"phase": "Succeeded"})], now=NOW)
    assert t["rows"][0]["conditions"][0]["type"] == "Completed"


def test_event_row() -> None:
    ev = {
        "metadata": {"name": "p.1", "creationTimestamp": CREATED},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "type": "Normal",
        "reason": "Scheduled",
        "message": "Successfully assigned default/p to node-0",
        "lastTimestamp": "2026-01-10T11:59:15Z",
        "count": 1,
    }
    c = tables.table(res("", "Event"), [ev], now=NOW)["rows"][0]["cells"]
    assert c[:4] == ["45s", "Normal", "Scheduled", "pod/p"]
    assert c[6] == "Successfully assigned default/p to node-0"
