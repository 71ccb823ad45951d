"""PodDisruptionBudget status (pkg/controller/disruption/disruption.go): the pure counts,
then the controller in the running manager, with pods made Ready as a kubelet would."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.ctrl_loop import DEPLOYMENTS, PODS, mark, pods, res, running, wait_for

from podnet.apiserver.binding import evict_pod
from podnet.apiserver.errors import ApiError
from podnet.controllers.disruption import (
    DELETION_TIMEOUT,
    current_healthy,
    disrupted_pods,
    expected_counts,
)

Obj = dict[str, Any]
PDBS = res("policy", "PodDisruptionBudget")


def pod(name: str, ready: bool = True, owner: str | None = "rs1", deleting: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "d"}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": owner,
                "controller": True,
            }
        ]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def lookup(group: str, kind: str, ns: str, name: str) -> Obj | None:
    owners = {
        "rs1": {
            "metadata": {
                "uid": "rs1",
                "ownerReferences": [
                    {"kind": "Deployment", "name": "dep", "uid": "dep", "controller": True}
                ],
            },
            "spec": {"replicas": 4},
        },
        "dep": {"metadata": {"uid": "dep"}, "spec": {"replicas": 5}},
    }
    return owners.get(name)


@pytest.mark.parametrize(
    ("spec", "expected", "desired"),
    [
        ({"minAvailable": 2}, 3, 2),  # an int: the pods selected
        ({"minAvailable": "50%"}, 5, 3),  # a percentage: of the Deployment's scale, rounded up
        ({"maxUnavailable": 1}, 5, 4),
        ({"maxUnavailable": "30%"}, 5, 3),  # 1.5 unavailable rounds up to 2
        ({}, 0, 0),
    ],
)
def test_expected_counts(spec: Obj, expected: int, desired: int) -> None:
    pods_ = [pod("a"), pod("b"), pod("c")]
    counts = expected_counts({"spec": spec}, pods_, lookup)
    assert (counts.expected, counts.desired_healthy) == (expected, desired)


def test_missing_controller_is_an_error() -> None:
    with pytest.raises(ValueError, match="found no controllers"):
        expected_counts({"spec": {"maxUnavailable": 1}}, [pod("a", owner="gone")], lookup)


def test_healthy_skips_deleting_unready_and_just_evicted() -> None:
    pods_ = [pod("a"), pod("b", ready=False), pod("c", deleting=True), pod("d")]
    t0 = 1_000_000.0
    pdb = {"status": {"disruptedPods": {"d": "1970-01-12T13:46:40Z", "zz": "1970-01-12T13:46:40Z"}}}
    disrupted, recheck = disrupted_pods(pdb, pods_, t0 + 1)
    assert disrupted == {"d": "1970-01-12T13:46:40Z"} and recheck == t0 + DELETION_TIMEOUT
    assert current_healthy(pods_, disrupted) == 1
    expired, _ = disrupted_pods(pdb, pods_, t0 + DELETION_TIMEOUT + 1)
    assert expired == {} and current_healthy(pods_, expired) == 2


def test_controller_computes_status_and_eviction_spends_it() -> None:
    with running() as (registry, _manager):
        registry.create(
            DEPLOYMENTS,
            "default",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
            },
        )
        registry.create(
            PDBS,
            "default",
            {
                "metadata": {"name": "web"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            },
        )
        wait_for(lambda: len(pods(registry, selector="app=web")) == 3, what="3 pods")
        ps = pods(registry, selector="app=web")
        for p in ps:
            mark(registry, p, ready=True)

        def status() -> Obj:
            st: Obj = registry.get(PDBS, "default", "web").get("status") or {}
            return st

        wait_for(lambda: status().get("currentHealthy") == 3, what="3 healthy")
        st = status()
        assert (st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (2, 3, 1)
        assert st["observedGeneration"] == 1
        cond = st["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == (
            "DisruptionAllowed",
            "True",
            "SufficientPods",
        )
        victim = ps[0]["metadata"]["name"]
        evict_pod(registry, "default", victim, lambda: registry.delete(PODS, "default", victim))
        with pytest.raises(ApiError) as e:
            other = ps[1]["metadata"]["name"]
            evict_pod(registry, "default", other, lambda: registry.delete(PODS, "default", other))
        assert e.value.code == 429
        # a spec change bumps the generation: the controller catches up
        pdb = copy.deepcopy(registry.get(PDBS, "default", "web"))
        pdb["spec"]["minAvailable"] = 1
        registry.update(PDBS, "default", "web", pdb)
        wait_for(lambda: status().get("observedGeneration") == 2, what="observed generation 2")
