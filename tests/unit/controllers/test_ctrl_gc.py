"""Garbage collector: the decisions, and background / foreground / orphan deletion over
the registry (ConfigMaps as owners and dependents: no kubelet grace in the way)."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import CONFIGMAPS, running, wait_for

from podnet.apiserver.registry import Registry
from podnet.controllers.garbagecollector import classify_owners, deletion_policy


def ref(uid: str, block: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": uid,
        "uid": uid,
        "blockOwnerDeletion": block,
    }


def owner(uid: str, *finalizers: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": uid, "uid": uid}
    if finalizers:
        meta["finalizers"] = list(finalizers)
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


def test_classify_solid_dangling_waiting() -> None:
    refs = [ref("a"), ref("b"), ref("c"), ref("d")]
    owners = [owner("a"), None, owner("c", "foregroundDeletion"), owner("other-uid")]
    solid, dangling, waiting = classify_owners(refs, owners)
    assert [r["uid"] for r in solid] == ["a"]
    assert [r["uid"] for r in dangling] == ["b", "d"]
    assert [r["uid"] for r in waiting] == ["c"]


def test_dependent_goes_the_way_its_finalizers_ask() -> None:
    assert deletion_policy(owner("x")) == "Background"
    assert deletion_policy(owner("x", "orphan")) == "Orphan"
    assert deletion_policy(owner("x", "foregroundDeletion")) == "Foreground"


def cm(name: str, *owners: dict[str, Any], finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def owned_by(o: dict[str, Any], block: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": o["metadata"]["name"],
        "uid": o["metadata"]["uid"],
        "blockOwnerDeletion": block,
    }


def names(registry: Registry) -> set[str]:
    return {o["metadata"]["name"] for o in registry.list(CONFIGMAPS, "default").items}


def test_background_deletes_dependents_whose_every_owner_is_gone() -> None:
    with running(nodes=1) as (registry, _):
        o1 = registry.create(CONFIGMAPS, "default", cm("o1"))
        o2 = registry.create(CONFIGMAPS, "default", cm("o2"))
        registry.create(CONFIGMAPS, "default", cm("only-o1", owned_by(o1)))
        registry.create(CONFIGMAPS, "default", cm("both", owned_by(o1), owned_by(o2)))
        registry.create(
            CONFIGMAPS,
            "default",
            cm("grandchild", owned_by(registry.get(CONFIGMAPS, "default", "only-o1"))),
        )
        registry.delete(CONFIGMAPS, "default", "o1")
        wait_for(lambda: names(registry) == {"o2", "both"}, what="only-o1 and its child collected")
        wait_for(
            lambda: (
                len(registry.get(CONFIGMAPS, "default", "both")["metadata"]["ownerReferences"]) == 1
            ),
            what="dangling reference removed",
        )
        both = registry.get(CONFIGMAPS, "default", "both")
        assert both["metadata"]["ownerReferences"][0]["uid"] == o2["metadata"]["uid"]


def test_dependent_of_an_owner_that_never_existed_is_collected() -> None:
    with running(nodes=1) as (registry, _):
        ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "no-such-uid"}
        registry.create(CONFIGMAPS, "default", cm("orphaned", ghost))
        wait_for(lambda: "orphaned" not in names(registry), what="collected")


def test_foreground_waits_for_blocking_dependents_then_removes_the_owner() -> None:
    with running(nodes=1) as (registry, _):
        o = registry.create(CONFIGMAPS, "default", cm("owner"))
        # a dependent held by another finalizer blocks the owner until it is gone
        registry.create(CONFIGMAPS, "default", cm("held", owned_by(o), finalizers=["test/hold"]))
        registry.create(CONFIGMAPS, "default", cm("free", owned_by(o)))
        registry.delete(CONFIGMAPS, "default", "owner", propagation="Foreground")
        wait_for(lambda: "free" not in names(registry), what="free dependent deleted")
        held = wait_for(
            lambda: registry.get(CONFIGMAPS, "default", "held")["metadata"].get(
                "deletionTimestamp"
            ),
            what="held dependent being deleted",
        )
        assert held
        current = registry.get(CONFIGMAPS, "default", "owner")
        assert current["metadata"]["finalizers"] == ["foregroundDeletion"]
        h = registry.get(CONFIGMAPS, "default", "held")
        registry.update(
            CONFIGMAPS, "default", "held", {**h, "metadata": {**h["metadata"], "finalizers": []}}
        )
        wait_for(lambda: names(registry) == set(), what="owner removed once nothing blocks")


def test_orphan_removes_references_then_the_finalizer() -> None:
    with running(nodes=1) as (registry, _):
        o = registry.create(CONFIGMAPS, "default", cm("owner"))
        registry.create(CONFIGMAPS, "default", cm("kid", owned_by(o)))
        registry.delete(CONFIGMAPS, "default", "owner", propagation="Orphan")
        wait_for(lambda: names(registry) == {"kid"}, what="owner gone, kid kept")
        assert "ownerReferences" not in registry.get(CONFIGMAPS, "default", "kid")["metadata"]
