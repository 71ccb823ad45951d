"""Defaults, validation and admission of CronJob, Ingress, IngressClass,
PodDisruptionBudget and PriorityClass through the real Registry; pods/eviction against
budgets (binding.evict_pod)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from podnet.apiserver.binding import evict_pod
from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore

Obj = dict[str, Any]


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


PODS = res("", "Pod")
CRONJOBS = res("batch", "CronJob")
PDBS = res("policy", "PodDisruptionBudget")
PCS = res("scheduling.k8s.io", "PriorityClass")
INGRESSES = res("networking.k8s.io", "Ingress")
CLASSES = res("networking.k8s.io", "IngressClass")


@pytest.fixture
def registry() -> Iterator[Registry]:
    r = Registry(MemoryStore())
    r.create(res("", "Namespace"), None, {"metadata": {"name": "default"}})
    yield r
    r.store.close()


def cronjob(schedule: str = "*/1 * * * *", **spec: Any) -> Obj:
    return {
        "metadata": {"name": "x"},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                }
            },
            **spec,
        },
    }


def pod(name: str = "p", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def invalid(registry: Registry, r: Resource, obj: Obj) -> list[tuple[str, str]]:
    with pytest.raises(ApiError) as e:
        registry.create(r, "default" if r.namespaced else None, obj)
    assert e.value.code == 422, e.value.message
    assert e.value.details is not None
    return [(c["field"], c["message"]) for c in e.value.details["causes"]]


def test_cronjob_defaults(registry: Registry) -> None:
    out = registry.create(CRONJOBS, "default", cronjob())
    spec = out["spec"]
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 1
    tpl = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert tpl["dnsPolicy"] == "ClusterFirst"  # the pod spec inside is defaulted
    assert out["metadata"]["generation"] == 1
    assert out["status"] == {}


def test_cronjob_schedule_and_time_zone_validated(registry: Registry) -> None:
    assert invalid(registry, CRONJOBS, cronjob("bad")) == [
        ("spec.schedule", 'Invalid value: "bad": expected exactly 5 fields, found 1: [bad]')
    ]
    assert invalid(registry, CRONJOBS, cronjob("TZ=UTC */1 * * * *")) == [
        (
            "spec.schedule",
            'Invalid value: "TZ=UTC */1 * * * *": cannot use TZ or CRON_TZ in schedule, '
            "use timeZone field instead",
        )
    ]
    assert invalid(registry, CRONJOBS, cronjob(timeZone="Mars/Olympus")) == [
        ("spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus')
    ]
    long = cronjob()
    long["metadata"]["name"] = "c" * 53
    assert invalid(registry, CRONJOBS, long) == [
        ("metadata.name", f'Invalid value: "{"c" * 53}": must be no more than 52 characters')
    ]
    for schedule in ("@hourly", "@every 5m", "0 9 * * mon-fri"):
        obj = cronjob(schedule, timeZone="Europe/Berlin")
        obj["metadata"]["name"] = f"ok{len(schedule)}"
        registry.create(CRONJOBS, "default", obj)


def test_cronjob_schedule_validated_on_update(registry: Registry) -> None:
    out = copy.deepcopy(registry.create(CRONJOBS, "default", cronjob()))
    out["spec"]["schedule"] = "61 * * * *"
    with pytest.raises(ApiError) as e:
        registry.update(CRONJOBS, "default", "x", out)
    assert e.value.code == 422 and "spec.schedule" in e.value.message


def test_pdb_status_and_rules(registry: Registry) -> None:
    sel = {"matchLabels": {"app": "a"}}
    out = registry.create(
        PDBS, "default", {"metadata": {"name": "b"}, "spec": {"minAvailable": 1, "selector": sel}}
    )
    assert out["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }
    both = {"metadata": {"name": "c"}, "spec": {"minAvailable": 1, "maxUnavailable": 1}}
    assert invalid(registry, PDBS, both)[0][0] == "spec"
    pct = {"metadata": {"name": "d"}, "spec": {"maxUnavailable": "150%"}}
    assert invalid(registry, PDBS, pct) == [
        ("spec.maxUnavailable", 'Invalid value: "150%": must not be greater than 100%')
    ]


def test_priority_class_rules(registry: Registry) -> None:
    out = registry.create(PCS, None, {"metadata": {"name": "high"}, "value": 1000})
    assert out["preemptionPolicy"] == "PreemptLowerPriority"
    assert invalid(registry, PCS, {"metadata": {"name": "system-mine"}, "value": 1}) == [
        ("metadata.name", "Forbidden: priority class names with 'system-' prefix are reserved")
    ]
    assert invalid(registry, PCS, {"metadata": {"name": "huge"}, "value": 2_000_000_000}) == [
        ("value", "Forbidden: maximum allowed value of a user defined priority is 1000000000")
    ]
    out = copy.deepcopy(out)  # the registry returns the store's own dict
    out["value"] = 5
    with pytest.raises(ApiError) as e:
        registry.update(PCS, None, "high", out)
    assert e.value.code == 422 and "value: Forbidden: may not be changed" in e.value.message


def test_priority_admission(registry: Registry) -> None:
    registry.create(PCS, None, {"metadata": {"name": "high"}, "value": 1000})
    out = registry.create(PODS, "default", pod("a", priorityClassName="high"))
    assert out["spec"]["priority"] == 1000
    assert out["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    with pytest.raises(ApiError) as e:
        registry.create(PODS, "default", pod("b", priorityClassName="nope"))
    assert (e.value.code, e.value.message) == (
        403,
        'pods "b" is forbidden: no PriorityClass with name nope was found',
    )
    with pytest.raises(ApiError) as e:
        registry.create(PODS, "default", pod("c", priorityClassName="high", priority=7))
    assert e.value.code == 403 and "priority admission controller computed 1000" in e.value.message
    assert registry.create(PODS, "default", pod("d"))["spec"]["priority"] == 0
    # a globalDefault class applies to pods naming none; only one may exist
    registry.create(
        PCS,
        None,
        {
            "metadata": {"name": "dflt"},
            "value": 10,
            "globalDefault": True,
            "preemptionPolicy": "Never",
        },
    )
    out = registry.create(PODS, "default", pod("e"))
    assert out["spec"]["priorityClassName"] == "dflt" and out["spec"]["priority"] == 10
    assert out["spec"]["preemptionPolicy"] == "Never"
    with pytest.raises(ApiError) as e:
        registry.create(PCS, None, {"metadata": {"name": "d2"}, "value": 1, "globalDefault": True})
    assert (
        e.value.code == 403 and "PriorityClass dflt is already marked as default" in e.value.message
    )
    # an update of the pod keeps what admission computed
    out = copy.deepcopy(out)
    out["metadata"]["labels"] = {"x": "y"}
    assert registry.update(PODS, "default", "e", out)["spec"]["priority"] == 10


def test_ingress_defaults_and_default_class(registry: Registry) -> None:
    registry.create(
        CLASSES,
        None,
        {
            "metadata": {
                "name": "nginx",
                "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
            },
            "spec": {
                "controller": "k8s.io/ingress-nginx",
                "parameters": {"kind": "P", "name": "p"},
            },
        },
    )
    assert registry.get(CLASSES, None, "nginx")["spec"]["parameters"]["scope"] == "Cluster"
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    ing = {
        "metadata": {"name": "web"},
        "spec": {
            "rules": [
                {
                    "host": "a.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }
    out = registry.create(INGRESSES, "default", ing)
    assert out["spec"]["ingressClassName"] == "nginx"
    assert out["status"] == {"loadBalancer": {}}
    bad = {"metadata": {"name": "bad"}, "spec": {}}
    assert invalid(registry, INGRESSES, bad)[0][0] == "spec"


# -- eviction --------------------------------------------------------------------------


def running_pod(registry: Registry, name: str, ready: bool = True) -> None:
    registry.create(PODS, "default", pod(name, {"app": "a"}))
    obj = registry.get(PODS, "default", name)
    obj = dict(
        obj,
        status={
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    )
    registry.update(PODS, "default", name, obj, subresource="status")


def budget(registry: Registry, allowed: int, **status: Any) -> None:
    obj = registry.create(
        PDBS,
        "default",
        {
            "metadata": {"name": "b"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}},
        },
    )
    obj = dict(
        obj,
        status={
            "disruptionsAllowed": allowed,
            "currentHealthy": 2,
            "desiredHealthy": 1,
            "expectedPods": 2,
            "observedGeneration": 1,
            **status,
        },
    )
    registry.update(PDBS, "default", "b", obj, subresource="status")


def evict(registry: Registry, name: str) -> list[str]:
    deleted: list[str] = []
    evict_pod(registry, "default", name, lambda: deleted.append(name))
    return deleted


def test_eviction_spends_the_budget_then_429(registry: Registry) -> None:
    running_pod(registry, "p1")
    running_pod(registry, "p2")
    budget(registry, 1)
    assert evict(registry, "p1") == ["p1"]
    st = registry.get(PDBS, "default", "b")["status"]
    assert st["disruptionsAllowed"] == 0 and "p1" in st["disruptedPods"]
    cond = next(c for c in st["conditions"] if c["type"] == "DisruptionAllowed")
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
    with pytest.raises(ApiError) as e:
        evict(registry, "p2")
    assert e.value.code == 429 and e.value.reason == "TooManyRequests"
    assert e.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert e.value.details == {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget b needs 1 healthy pods and has 2 currently",
            }
        ]
    }


def test_eviction_without_budget_or_of_pending_pod_deletes(registry: Registry) -> None:
    running_pod(registry, "p1")
    assert evict(registry, "p1") == ["p1"]
    budget(registry, 0)
    registry.create(PODS, "default", pod("pending", {"app": "a"}))
    assert evict(registry, "pending") == ["pending"]  # canIgnorePDB
    with pytest.raises(ApiError) as e:
        evict(registry, "ghost")
    assert e.value.code == 404


def test_eviction_waits_for_the_controller(registry: Registry) -> None:
    running_pod(registry, "p1")
    budget(registry, 1, observedGeneration=0)
    with pytest.raises(ApiError) as e:
        evict(registry, "p1")
    assert e.value.code == 429
    assert e.value.details is not None
    assert "still being processed" in e.value.details["causes"][0]["message"]


def test_unready_pod_evicted_when_budget_is_healthy(registry: Registry) -> None:
    running_pod(registry, "sick", ready=False)
    budget(registry, 0)  # currentHealthy 2 >= desiredHealthy 1: IfHealthyBudget lets it go
    assert evict(registry, "sick") == ["sick"]
