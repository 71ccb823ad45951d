"""Table rows of CronJob, Ingress, IngressClass, PodDisruptionBudget, PriorityClass and
the RBAC kinds, as printers.go prints them (columns and cells)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from podnet.apiserver import tables
from podnet.apiserver.resources import Resource, by_kind

NOW = datetime.fromisoformat("2026-01-10T12:00:00+00:00").timestamp()
CREATED = "2026-01-10T11:55:00Z"  # 5m before NOW
Obj = dict[str, Any]


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


def row(group: str, kind: str, obj: Obj) -> tuple[list[str], list[Any], list[int]]:
    obj.setdefault("metadata", {}).update({"name": "n", "creationTimestamp": CREATED})
    t = tables.table(res(group, kind), [obj], now=NOW)
    cols = t["columnDefinitions"]
    return [c["name"] for c in cols], t["rows"][0]["cells"], [c["priority"] for c in cols]


def test_cronjob() -> None:
    names, cells, prio = row(
        "batch",
        "CronJob",
        {
            "spec": {
                "schedule": "*/1 * * * *",
                "suspend": False,
                "jobTemplate": {
                    "spec": {
                        "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}
                    }
                },
            },
            "status": {"active": [{"name": "a"}], "lastScheduleTime": "2026-01-10T11:59:00Z"},
        },
    )
    assert names == [
        "Name",
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert cells == [
        "n",
        "*/1 * * * *",
        "<none>",
        "False",
        1,
        "60s",
        "5m",
        "c",
        "busybox",
        "<none>",
    ]
    assert prio == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]


def test_ingress() -> None:
    rules = [{"host": h} for h in ("a", "b", "c", "d", "e")]
    names, cells, _ = row(
        "networking.k8s.io",
        "Ingress",
        {
            "spec": {"ingressClassName": "nginx", "rules": rules, "tls": [{"hosts": ["a"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb"}]}},
        },
    )
    assert names == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert cells == ["n", "nginx", "a,b,c + 2 more...", "10.0.0.2,lb", "80, 443", "5m"]
    _, cells, _ = row("networking.k8s.io", "Ingress", {"spec": {}, "status": {"loadBalancer": {}}})
    assert cells == ["n", "<none>", "*", "", "80", "5m"]


def test_ingress_class() -> None:
    spec = {
        "controller": "k8s.io/nginx",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "P", "name": "p"},
    }
    names, cells, _ = row("networking.k8s.io", "IngressClass", {"spec": spec})
    assert names == ["Name", "Controller", "Parameters", "Age"]
    assert cells == ["n", "k8s.io/nginx", "P.k8s.example.com/p", "5m"]


@pytest.mark.parametrize(
    ("spec", "cells"),
    [
        ({"minAvailable": 2}, ["2", "N/A"]),
        ({"maxUnavailable": "25%"}, ["N/A", "25%"]),
    ],
)
def test_pdb(spec: Obj, cells: list[str]) -> None:
    names, got, _ = row(
        "policy", "PodDisruptionBudget", {"spec": spec, "status": {"disruptionsAllowed": 1}}
    )
    assert names == ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]
    assert got == ["n", *cells, 1, "5m"]


def test_priority_class() -> None:
    names, cells, _ = row(
        "scheduling.k8s.io", "PriorityClass", {"value": 1000, "preemptionPolicy": "Never"}
    )
    assert names == ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    assert cells == ["n", 1000, False, "5m", "Never"]


def test_rbac() -> None:
    names, cells, prio = row(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        {
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "jane"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
                {"kind": "User", "name": "joe"},
            ],
        },
    )
    assert names == ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    assert cells == ["n", "ClusterRole/view", "5m", "jane, joe", "devs", "ns/sa"]
    assert prio == [0, 0, 0, 1, 1, 1]
    for kind in ("Role", "ClusterRole"):
        names, cells, _ = row("rbac.authorization.k8s.io", kind, {})
        assert names == ["Name", "Created At"] and cells == ["n", CREATED]
