"""Deployment decisions (hash, rollout steps, status) and its loop over the registry:
3 replicas across 2 nodes, scale to 0 and back, a rolling update."""

from __future__ import annotations

from typing import Any

import pytest
from support.ctrl_loop import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    deployment,
    mark,
    pods,
    running,
    wait_for,
)

from podnet.apiserver.registry import Registry
from podnet.controllers.base import compute_hash, fnv32a, safe_encode
from podnet.controllers.deployment import (
    HASH_LABEL,
    copied_annotations,
    deployment_status,
    find_new_rs,
    history_to_delete,
    plan_rollout,
    proportional_scale,
    surge_and_unavailable,
)


def test_fnv32a_and_safe_encoding_as_apimachinery() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    # rand.SafeEncodeString maps digits into "bcdfghjklmnpqrstvwxz2456789" by code % 27
    assert safe_encode("0123456789") == "456789bcdf"


def test_hash_depends_on_template_and_collision_count() -> None:
    t = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x"}]}}
    h = compute_hash(t)
    assert h == compute_hash({"spec": t["spec"], "metadata": t["metadata"]})
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert compute_hash(t, 1) != h
    assert compute_hash({**t, "spec": {"containers": [{"image": "y"}]}}) != h


@pytest.mark.parametrize(
    ("strategy", "replicas", "expected"),
    [
        ({}, 4, (1, 1)),
        ({}, 10, (3, 2)),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 3, (0, 1)),
        ({"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 2}}, 3, (2, 2)),
        ({"type": "Recreate"}, 3, (0, 3)),
    ],
)
def test_surge_rounds_up_unavailable_down(
    strategy: dict[str, Any], replicas: int, expected: tuple[int, int]
) -> None:
    d = deployment("d", replicas, strategy=strategy)
    assert surge_and_unavailable(d) == expected


def rs(
    name: str, replicas: int, available: int, image: str = "old", rev: int = 1
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": f"2026-01-0{rev}T00:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": str(rev)},
        },
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": {"app": "d", HASH_LABEL: name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
        "status": {"replicas": replicas, "availableReplicas": available},
    }


def test_find_new_rs_ignores_the_hash_label() -> None:
    d = deployment("d", 3, image="new")
    old, new = rs("d-a", 3, 3), rs("d-b", 0, 0, image="new", rev=2)
    assert find_new_rs(d, [old, new]) is new
    assert find_new_rs(d, [old]) is None


def test_rolling_update_steps() -> None:
    d = deployment("d", 4, image="new")  # surge 1, unavailable 1
    old = rs("d-a", 4, 4)
    assert plan_rollout(d, None, [old]).create == 1  # new set within the surge
    new = rs("d-b", 1, 0, image="new", rev=2)
    plan = plan_rollout(d, new, [old])
    assert plan.create is None
    assert plan.scale == {"d-a": 3}  # one old may go: 4 available, 3 needed
    old3 = rs("d-a", 3, 3)
    assert plan_rollout(d, new, [old3]).scale == {"d-b": 2}  # room to surge again
    new2 = rs("d-b", 2, 0, image="new", rev=2)
    assert plan_rollout(d, new2, [old3]).scale == {}  # wait: new pods not available
    new2_ok = rs("d-b", 2, 2, image="new", rev=2)
    assert plan_rollout(d, new2_ok, [old3]).scale == {"d-a": 1}


def test_scaling_without_template_change_goes_to_the_new_set() -> None:
    d = deployment("d", 5)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "old"
    current = rs("d-a", 3, 3)
    assert plan_rollout(d, current, []).scale == {"d-a": 5}
    assert plan_rollout(deployment("d", 0, image="old"), current, []).scale == {"d-a": 0}


def test_recreate_waits_for_old_pods_to_be_gone() -> None:
    d = deployment("d", 2, image="new", strategy={"type": "Recreate"})
    old = rs("d-a", 2, 2)
    assert plan_rollout(d, None, [old]).scale == {"d-a": 0}
    draining = rs("d-a", 0, 0)
    draining["status"]["replicas"] = 1
    plan = plan_rollout(d, None, [draining])
    assert (plan.create, plan.scale) == (None, {})
    assert plan_rollout(d, None, [rs("d-a", 0, 0)]).create == 2


def test_status_and_conditions_as_rollout_status_reads_them() -> None:
    d = deployment("d", 2)
    d["metadata"]["generation"] = 4
    new = rs("d-b", 2, 2, image="nginx")
    st = deployment_status(d, new, [new], 0.0)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 4,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 0,
        "availableReplicas": 2,
        "unavailableReplicas": 0,
    }
    conds = {c["type"]: (c["status"], c["reason"]) for c in st["conditions"]}
    assert conds == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    half = deployment_status(d, rs("d-b", 2, 0), [rs("d-b", 2, 0)], 0.0)
    conds = {c["type"]: (c["status"], c["reason"]) for c in half["conditions"]}
    assert conds["Available"] == ("False", "MinimumReplicasUnavailable")
    assert conds["Progressing"] == ("True", "NewReplicaSetCreated")


def _progressing(d: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")


def test_progress_moves_last_update_time_and_a_stall_times_out() -> None:
    d = deployment("d", 2, progressDeadlineSeconds=600)
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    d["status"] = deployment_status(d, rs("d-b", 2, 0), [rs("d-b", 2, 0)], t0)
    one = rs("d-b", 2, 1)
    d["status"] = deployment_status(d, one, [one], t0 + 100)
    p = _progressing(d)
    assert (p["reason"], p["lastUpdateTime"]) == ("ReplicaSetUpdated", "2026-01-01T00:01:40Z")
    assert p["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    stalled = deployment_status(d, one, [one], t0 + 650)  # no progress, within 600 s
    assert stalled["conditions"] == d["status"]["conditions"]
    d["status"] = deployment_status(d, one, [one], t0 + 701)
    p = _progressing(d)
    assert (p["status"], p["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert p["message"] == 'ReplicaSet "d-b" has timed out progressing.'


def test_history_keeps_revision_history_limit_empty_sets() -> None:
    d = deployment("d", 1, revisionHistoryLimit=1)
    olds = [rs(f"d-{i}", 0, 0, rev=i) for i in range(1, 4)]
    assert [r["metadata"]["name"] for r in history_to_delete(d, olds)] == ["d-1", "d-2"]


# --- the loop ---------------------------------------------------------------------------


def _status(registry: Registry, name: str) -> dict[str, Any]:
    st: dict[str, Any] = registry.get(DEPLOYMENTS, "default", name).get("status") or {}
    return st


def _make_ready(registry: Registry) -> int:
    """Play the kubelet: every bound, not yet Running pod becomes Running and Ready."""
    n = 0
    for p in pods(registry):
        bound = p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")
        if bound and (p.get("status") or {}).get("phase") != "Running":
            mark(registry, p, ip=f"10.244.0.{2 + n}")
            n += 1
    return n


def _live(registry: Registry) -> list[dict[str, Any]]:
    return [p for p in pods(registry) if not p["metadata"].get("deletionTimestamp")]


def _finish_deletes(registry: Registry) -> None:
    """Play the kubelet: pods being deleted go now."""
    for p in pods(registry):
        if p["metadata"].get("deletionTimestamp"):
            try:
                registry.delete(PODS, "default", p["metadata"]["name"], grace_period=0)
            except Exception as e:
                if getattr(e, "code", None) != 404:
                    raise


def test_loop_deployment_of_3_spreads_scales_to_0_and_back_and_rolls() -> None:
    with running(nodes=2) as (registry, _):
        registry.create(DEPLOYMENTS, "default", deployment("web", 3))
        wait_for(lambda: len([p for p in pods(registry) if p["spec"].get("nodeName")]) == 3)
        nodes = sorted(p["spec"]["nodeName"] for p in pods(registry))
        assert nodes == ["node-0", "node-0", "node-1"]
        (rs_,) = registry.list(REPLICASETS, "default").items
        h = rs_["metadata"]["labels"][HASH_LABEL]
        assert rs_["metadata"]["name"] == f"web-{h}"
        assert rs_["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: h}
        assert rs_["metadata"]["annotations"] == {
            "deployment.kubernetes.io/revision": "1",
            "deployment.kubernetes.io/desired-replicas": "3",
            "deployment.kubernetes.io/max-replicas": "4",
        }
        assert all(p["metadata"]["labels"][HASH_LABEL] == h for p in pods(registry))
        _make_ready(registry)

        def rolled_out(name: str, replicas: int) -> bool:
            st = _status(registry, name)
            gen = registry.get(DEPLOYMENTS, "default", name)["metadata"]["generation"]
            return (
                st.get("observedGeneration") == gen
                and (st.get("updatedReplicas") or 0) == replicas
                and (st.get("replicas") or 0) == replicas
                and (st.get("availableReplicas") or 0) == replicas
            )

        wait_for(lambda: rolled_out("web", 3), what="rolled out")
        conds = {c["type"]: c["reason"] for c in _status(registry, "web")["conditions"]}
        assert conds == {
            "Available": "MinimumReplicasAvailable",
            "Progressing": "NewReplicaSetAvailable",
        }

        def scale(n: int) -> None:
            for _ in range(10):
                d = registry.get(DEPLOYMENTS, "default", "web")
                try:
                    registry.update(
                        DEPLOYMENTS, "default", "web", {**d, "spec": {**d["spec"], "replicas": n}}
                    )
                    return
                except Exception as e:
                    if getattr(e, "code", None) != 409:
                        raise

        scale(0)
        wait_for(lambda: not _live(registry), what="scaled to 0")
        _finish_deletes(registry)
        wait_for(lambda: rolled_out("web", 0), what="status at 0")
        scale(3)
        wait_for(lambda: len([p for p in _live(registry) if p["spec"].get("nodeName")]) == 3)
        _make_ready(registry)
        wait_for(lambda: rolled_out("web", 3), what="back to 3")

        # a rolling update: a new template replaces every pod
        d = registry.get(DEPLOYMENTS, "default", "web")
        spec = d["spec"]
        tpl = {**spec["template"], "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
        registry.update(DEPLOYMENTS, "default", "web", {**d, "spec": {**spec, "template": tpl}})

        def step() -> bool:
            _make_ready(registry)
            _finish_deletes(registry)
            return rolled_out("web", 3)

        wait_for(step, timeout=20, what="rolling update done")
        images = {p["spec"]["containers"][0]["image"] for p in _live(registry)}
        assert images == {"nginx:2"}
        sets = {
            r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r["spec"]["replicas"]
            for r in registry.list(REPLICASETS, "default").items
        }
        assert sets == {"1": 0, "2": 3}
        anns = registry.get(DEPLOYMENTS, "default", "web")["metadata"]["annotations"]
        assert anns["deployment.kubernetes.io/revision"] == "2"


def test_scaling_mid_rollout_is_proportional() -> None:
    # upstream's example (sync.go): 10 replicas, surge 3, old set 8 + new set 5 (13 = max),
    # scaled to 15: max 18, +5 spread by size
    d = deployment(
        "d", 15, image="new", strategy={"rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    )
    old = rs("d-a", 8, 8)
    new = rs("d-b", 5, 0, image="new", rev=2)
    for r in (old, new):
        r["metadata"]["annotations"].update(
            {
                "deployment.kubernetes.io/desired-replicas": "10",
                "deployment.kubernetes.io/max-replicas": "13",
            }
        )
    scaled = proportional_scale(d, [old, new])
    assert scaled == {"d-a": 11, "d-b": 7}
    assert sum(scaled.values()) == 18
    # not a scaling event when the sets already carry the replicas asked for
    for r in (old, new):
        r["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = "15"
    assert proportional_scale(d, [old, new]) is None


def test_user_annotations_travel_to_the_replica_set_but_not_kubectls() -> None:
    d = deployment("d", 1)
    d["metadata"]["annotations"] = {
        "team": "a",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "deployment.kubernetes.io/revision": "4",
    }
    assert copied_annotations(d) == {"team": "a"}
