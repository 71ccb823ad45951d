"""StatefulSet stable storage: the claims of spec.volumeClaimTemplates made before each
pod and mounted by it, and the retention policy kept in their owner references
(pkg/controller/statefulset/stateful_set_utils.go getPersistentVolumeClaims,
updateStorage, isClaimOwnerUpToDate, updateClaimOwnerRefForSetAndPod;
stateful_pod_control.go createPersistentVolumeClaims, PodClaimIsStale)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from support.ctrl_loop import NAMESPACES, PODS, STATEFULSETS, found, res, running, wait_for

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.informer import Informer, Informers
from podnet.controllers.statefulset import (
    CLAIMS,
    StatefulSetController,
    claim_owner_refs,
    claim_owner_up_to_date,
    new_claims,
    new_pod,
)

Obj = dict[str, Any]
EVENTS = res("", "Event")
DATA_SPEC = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
MINE = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}


def sts(replicas: int = 1, policy: tuple[str, str] | None = None, **spec: Any) -> Obj:
    """A set ``db`` whose container mounts the claim template ``data``; ``policy`` is
    (whenDeleted, whenScaled)."""
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "uid": "set-uid"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db-hl",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "x",
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/db"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {
                        "name": "data",
                        "labels": {"tier": "storage", "app": "other"},
                        "annotations": {"note": "kept"},
                    },
                    "spec": copy.deepcopy(DATA_SPEC),
                }
            ],
            **spec,
        },
    }
    if policy is not None:
        obj["spec"]["persistentVolumeClaimRetentionPolicy"] = {
            "whenDeleted": policy[0],
            "whenScaled": policy[1],
        }
    return obj


# -- pure: names, labels, volumes, owner references ------------------------------------


def test_the_pod_mounts_one_claim_per_template_in_place_of_a_volume_of_that_name() -> None:
    s = sts()
    s["spec"]["template"]["spec"]["volumes"] = [
        {"name": "data", "emptyDir": {}},
        {"name": "scratch", "emptyDir": {}},
    ]
    pod = new_pod(s, 2, "db-abc")
    assert pod["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-2"}},
        {"name": "scratch", "emptyDir": {}},
    ]
    assert s["spec"]["template"]["spec"]["volumes"][0] == {"name": "data", "emptyDir": {}}
    plain = sts()
    del plain["spec"]["volumeClaimTemplates"]
    assert "volumes" not in new_pod(plain, 0, "db-abc")["spec"]


def test_a_claim_is_its_template_named_for_the_ordinal_labelled_with_the_selector() -> None:
    claims = new_claims(sts(), 3)
    assert list(claims) == ["data"]
    claim = claims["data"]
    assert claim["metadata"] == {
        "name": "data-db-3",
        "namespace": "default",
        "labels": {"tier": "storage", "app": "db"},  # matchLabels win
        "annotations": {"note": "kept"},
    }
    assert claim["spec"] == DATA_SPEC
    assert (claim["apiVersion"], claim["kind"]) == ("v1", "PersistentVolumeClaim")


def _pod(name: str, pod_uid: str = "") -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": pod_uid}}


def _owners(refs: list[Obj]) -> list[tuple[str, str, bool]]:
    return [(r["kind"], r["name"], bool(r.get("controller"))) for r in refs]


SET_REF = ("StatefulSet", "db", True)


@pytest.mark.parametrize(
    ("policy", "pod_name", "owners"),
    [
        (("Retain", "Retain"), "db-0", []),
        (("Retain", "Retain"), "db-5", []),
        (("Delete", "Retain"), "db-0", [SET_REF]),
        (("Delete", "Retain"), "db-5", [SET_REF]),
        (("Retain", "Delete"), "db-0", []),
        (("Retain", "Delete"), "db-5", [("Pod", "db-5", True)]),
        (("Delete", "Delete"), "db-0", [SET_REF]),
        (("Delete", "Delete"), "db-5", [("Pod", "db-5", True)]),
        (("Sometimes", "Delete"), "db-5", []),  # unknown: as Retain
    ],
)
def test_owner_references_follow_the_retention_policy(
    policy: tuple[str, str], pod_name: str, owners: list[tuple[str, str, bool]]
) -> None:
    s, pod = sts(2, policy), _pod(pod_name, "pod-uid")  # db-5 is scaled down
    claim = new_claims(s, 0)["data"]
    refs = claim_owner_refs(claim, s, pod)
    assert _owners(refs) == owners
    for r in refs:
        assert r["blockOwnerDeletion"] is True  # metav1.NewControllerRef
    done = {**claim, "metadata": {**claim["metadata"], "ownerReferences": refs}}
    assert claim_owner_up_to_date(done, s, pod)
    assert claim_owner_up_to_date(claim, s, pod) == (owners == [])


def test_stale_foreign_and_non_controller_references() -> None:
    s, pod = sts(2, ("Delete", "Retain")), _pod("db-0", "pod-uid")
    claim = new_claims(s, 0)["data"]

    def having(*refs: Obj) -> Obj:
        return {**claim, "metadata": {**claim["metadata"], "ownerReferences": list(refs)}}

    ours = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "set-uid"}
    # a set of this name under another uid: an earlier set's claim, left alone
    assert claim_owner_up_to_date(having({**ours, "uid": "old", "controller": True}), s, pod)
    # a reference without controller (as releases before 1.32 wrote) is rewritten
    loose = having(ours)
    assert not claim_owner_up_to_date(loose, s, pod)
    assert _owners(claim_owner_refs(loose, s, pod)) == [SET_REF]
    # another controller: ours are scrubbed, none added over it
    other = {"apiVersion": "v1", "kind": "Thing", "name": "t", "uid": "t", "controller": True}
    assert claim_owner_up_to_date(having(other), s, pod)
    both = having(other, {**ours, "controller": True})
    assert not claim_owner_up_to_date(both, s, pod)
    assert _owners(claim_owner_refs(both, s, pod)) == [("Thing", "t", True)]


# -- the controller over the registry ----------------------------------------------------


@contextmanager
def controller(registry: Registry | None = None) -> Iterator[tuple[Registry, Any]]:
    registry = registry or Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    informers = Informers(registry)
    ctrl = StatefulSetController(registry, informers)
    ctrl.setup()
    informers.start()
    try:
        assert informers.wait_synced(10.0)
        yield registry, ctrl
    finally:
        informers.stop(2.0)
        registry.store.close()


def _versions(objs: list[Obj]) -> set[str]:
    return {o["metadata"]["resourceVersion"] for o in objs}


def sync(ctrl: StatefulSetController, registry: Registry) -> None:
    """One sync of default/db once the informers hold what the registry holds."""
    current = registry.get(STATEFULSETS, "default", "db")
    wait_for(lambda: ctrl.sets.get("default/db") == current, what="set cached")
    for r, inf in ((PODS, ctrl.pods), (CLAIMS, ctrl.claims)):
        _wait_cached(inf, _versions(registry.list(r, "default").items))
    ctrl.sync("default/db")


def _wait_cached(inf: Informer, want: set[str]) -> None:
    wait_for(lambda: _versions(inf.objects()) == want, what=f"{inf.res.plural} cached")


def claim(registry: Registry, name: str) -> Obj | None:
    return found(registry, CLAIMS, "default", name)


def events(registry: Registry, reason: str) -> list[tuple[str, str]]:
    return sorted(
        (e["type"], e["message"])
        for e in registry.list(EVENTS, "default").items
        if e.get("reason") == reason
    )


def scale(registry: Registry, replicas: int, **spec: Any) -> None:
    s = copy.deepcopy(registry.get(STATEFULSETS, "default", "db"))
    s["spec"] = {**s["spec"], "replicas": replicas, **spec}
    registry.update(STATEFULSETS, "default", "db", s)


def collect(registry: Registry, name: str) -> None:
    """Delete a claim as the collector does, and let it go (its finalizers, e.g.
    kubernetes.io/pvc-protection, removed as their controllers would)."""
    registry.delete(CLAIMS, "default", name)
    held = found(registry, CLAIMS, "default", name)
    if held is not None:
        held["metadata"]["finalizers"] = []
        registry.update(CLAIMS, "default", name, held)
    assert found(registry, CLAIMS, "default", name) is None


def create_set(registry: Registry, obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    del obj["metadata"]["uid"]
    out: Obj = registry.create(STATEFULSETS, "default", obj)
    return out


def test_claims_are_made_before_the_pod_which_mounts_them() -> None:
    with controller() as (registry, ctrl):
        create_set(registry, sts(1))
        sync(ctrl, registry)
        c = claim(registry, "data-db-0")
        assert c is not None
        assert c["metadata"]["labels"] == {"tier": "storage", "app": "db"}
        assert c["metadata"]["annotations"] == {"note": "kept"}
        assert c["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert c["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
        assert "ownerReferences" not in c["metadata"]  # Retain, Retain: no owner
        pod = registry.get(PODS, "default", "db-0")
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}} in pod["spec"][
            "volumes"
        ]
        assert events(registry, "SuccessfulCreate") == [
            ("Normal", "create Claim data-db-0 Pod db-0 in StatefulSet db success"),
            ("Normal", "create Pod db-0 in StatefulSet db successful"),
        ]


def test_a_pending_pod_gets_a_claim_made_again_when_it_went() -> None:
    with controller() as (registry, ctrl):
        create_set(registry, sts(1))
        sync(ctrl, registry)
        first = claim(registry, "data-db-0")
        assert first is not None
        collect(registry, "data-db-0")
        sync(ctrl, registry)  # db-0 is still Pending: createMissingPersistentVolumeClaims
        again = claim(registry, "data-db-0")
        assert again is not None and again["metadata"]["uid"] != first["metadata"]["uid"]


def test_an_existing_claim_is_kept_and_mounted_again() -> None:
    with controller() as (registry, ctrl):
        mine = registry.create(
            CLAIMS,
            "default",
            {"metadata": {"name": "data-db-0"}, "spec": MINE},
        )
        create_set(registry, sts(1))
        sync(ctrl, registry)
        kept = claim(registry, "data-db-0")
        assert kept is not None and kept["metadata"]["uid"] == mine["metadata"]["uid"]
        assert kept["spec"]["resources"] == MINE["resources"]  # not the template's
        assert registry.get(PODS, "default", "db-0")["spec"]["volumes"][0] == {
            "name": "data",
            "persistentVolumeClaim": {"claimName": "data-db-0"},
        }
        assert [m for _, m in events(registry, "SuccessfulCreate")] == [
            "create Pod db-0 in StatefulSet db successful"
        ]
        # a controller whose cache has not seen it yet: AlreadyExists, the claim is used
        late = StatefulSetController(registry, Informers(registry))
        late.setup()  # informers never started: empty caches
        s = registry.get(STATEFULSETS, "default", "db")
        assert late._create_claims(s, new_pod(s, 0, "r"), 0) == ([], None)
        assert claim(registry, "data-db-0") == kept


def test_when_deleted_delete_makes_the_set_the_claims_controller() -> None:
    with controller() as (registry, ctrl):
        s = create_set(registry, sts(1, ("Delete", "Retain")))
        sync(ctrl, registry)
        c = claim(registry, "data-db-0")
        assert c is not None
        assert c["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": "db",
                "uid": s["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        # the policy back to Retain: the reference goes again
        scale(registry, 1, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain"})
        sync(ctrl, registry)
        c = claim(registry, "data-db-0")
        assert c is not None and "ownerReferences" not in c["metadata"]


def test_when_scaled_delete_gives_a_condemned_pods_claims_to_the_pod() -> None:
    with controller() as (registry, ctrl):
        create_set(registry, sts(2, ("Retain", "Delete"), podManagementPolicy="Parallel"))
        sync(ctrl, registry)
        assert claim(registry, "data-db-1") is not None
        db1 = registry.get(PODS, "default", "db-1")
        scale(registry, 1)
        sync(ctrl, registry)
        c1, c0 = claim(registry, "data-db-1"), claim(registry, "data-db-0")
        assert c1 is not None and c0 is not None
        assert c1["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "db-1",
                "uid": db1["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert "ownerReferences" not in c0["metadata"]  # in range: kept
        wait_for(lambda: found(registry, PODS, "default", "db-1") is None, what="db-1 gone")

        # scaled up again before the collector took the claim: db-1 waits for it
        scale(registry, 2)
        sync(ctrl, registry)
        assert found(registry, PODS, "default", "db-1") is None
        collect(registry, "data-db-1")
        sync(ctrl, registry)
        fresh = claim(registry, "data-db-1")
        assert fresh is not None and fresh["metadata"]["uid"] != c1["metadata"]["uid"]
        assert "ownerReferences" not in fresh["metadata"]
        assert found(registry, PODS, "default", "db-1") is not None


def test_a_claim_being_deleted_holds_its_pod_back() -> None:
    with controller() as (registry, ctrl):
        registry.create(
            CLAIMS,
            "default",
            {"metadata": {"name": "data-db-0", "finalizers": ["example.com/hold"]}, "spec": MINE},
        )
        registry.delete(CLAIMS, "default", "data-db-0")
        create_set(registry, sts(1))
        sync(ctrl, registry)
        assert found(registry, PODS, "default", "db-0") is None
        assert events(registry, "FailedCreate") == [
            (
                "Warning",
                "create Pod db-0 in StatefulSet db failed error: pvc data-db-0 is being deleted",
            )
        ]
        # nothing queued; then the claim going queues its set (no pod or set changed)
        current = registry.get(STATEFULSETS, "default", "db")
        wait_for(lambda: ctrl.sets.get("default/db") == current, what="status cached")
        while (key := ctrl.queue.get(0.0)) is not None:
            ctrl.queue.done(key)
        held = registry.get(CLAIMS, "default", "data-db-0")
        held["metadata"]["finalizers"] = []
        registry.update(CLAIMS, "default", "data-db-0", held)
        wait_for(lambda: ctrl.queue.get(0.0) == "default/db", what="the claim's set queued")
        ctrl.queue.done("default/db")
        sync(ctrl, registry)
        assert claim(registry, "data-db-0") is not None
        assert found(registry, PODS, "default", "db-0") is not None


class RefusingClaims(Registry):
    """The registry refusing every new claim, as a ResourceQuota would."""

    def create(self, res: Any, namespace: str | None, obj: Obj, **kw: Any) -> Obj:
        if res == CLAIMS:
            raise ApiError(403, "Forbidden", 'persistentvolumeclaims "x" is forbidden: quota')
        out: Obj = super().create(res, namespace, obj, **kw)
        return out


def test_a_claim_that_cannot_be_made_keeps_the_pod_from_being_made() -> None:
    with controller(RefusingClaims(MemoryStore())) as (registry, ctrl):
        create_set(registry, sts(1))
        with pytest.raises(ApiError) as raised:
            sync(ctrl, registry)
        assert raised.value.code == 403
        assert found(registry, PODS, "default", "db-0") is None
        refusal = 'persistentvolumeclaims "x" is forbidden: quota'
        assert events(registry, "FailedCreate") == [
            (
                "Warning",
                f"create Claim data-db-0 for Pod db-0 in StatefulSet db failed error: {refusal}",
            ),
            (
                "Warning",
                "create Pod db-0 in StatefulSet db failed error: "
                f"failed to create PVC data-db-0: {refusal}",
            ),
        ]


def _claim_state(registry: Registry, name: str) -> str:
    c = claim(registry, name)
    if c is None:
        return "gone"
    return "deleting" if c["metadata"].get("deletionTimestamp") else "present"


def _collected(registry: Registry, r: Any, name: str) -> bool:
    obj = found(registry, r, "default", name)
    return obj is None or bool(obj["metadata"].get("deletionTimestamp"))


@pytest.mark.parametrize("when_deleted", ["Retain", "Delete"])
def test_loop_the_collector_takes_the_claims_with_the_set_only_when_asked(
    when_deleted: str,
) -> None:
    with running(nodes=1) as (registry, _):
        create_set(registry, sts(1, (when_deleted, "Retain")))
        wait_for(lambda: found(registry, PODS, "default", "db-0"), what="db-0")
        assert _claim_state(registry, "data-db-0") == "present"
        registry.delete(STATEFULSETS, "default", "db")
        wait_for(lambda: _collected(registry, PODS, "db-0"), what="db-0 collected")
        if when_deleted == "Delete":
            wait_for(lambda: _collected(registry, CLAIMS, "data-db-0"), what="claim collected")
        else:
            assert _claim_state(registry, "data-db-0") == "present"  # stable storage stays
