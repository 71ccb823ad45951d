"""ControllerRevisions: FNV-1 hashing, numbering and rollback, truncation, and a
StatefulSet rolling update over the registry writing them."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import PODS, STATEFULSETS, found, mark, pods, res, running, wait_for

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.history import (
    REVISIONS,
    ensure_revision,
    fnv1_32,
    revision_hash,
    stale_revisions,
    template_patch,
)


def test_fnv1_is_go_fnv_new32() -> None:
    assert fnv1_32(b"") == 0x811C9DC5
    assert fnv1_32(b"a") == 0x050C5D7E


def test_patch_replaces_the_template_and_hash_takes_the_collision_count() -> None:
    t = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}
    data = template_patch(t)
    assert data == {"spec": {"template": {**t, "$patch": "replace"}}}
    assert revision_hash(data, 0) != revision_hash(data, 1)
    assert revision_hash(data, 0) == revision_hash(template_patch(dict(t)), 0)


def test_stale_revisions_keep_those_in_use_and_the_limit() -> None:
    revs = [{"metadata": {"name": f"r{i}"}, "revision": i} for i in range(1, 6)]
    assert [r["metadata"]["name"] for r in stale_revisions(revs, {"r1", "r5"}, 1)] == ["r2", "r3"]
    assert stale_revisions(revs, set(), 10) == []


def _sts(registry: Registry) -> dict[str, Any]:
    ns = res("", "Namespace")
    registry.create(ns, None, {"metadata": {"name": "default"}})
    return registry.create(
        STATEFULSETS,
        "default",
        {
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        },
    )


def test_revisions_are_numbered_and_a_rollback_renumbers() -> None:
    registry = Registry(MemoryStore())
    try:
        sts = _sts(registry)

        def owned() -> list[dict[str, Any]]:
            return registry.list(REVISIONS, "default").items

        assert ensure_revision(registry, sts, STATEFULSETS, owned(), "db-a", "a", {"v": 1}) == 1
        assert ensure_revision(registry, sts, STATEFULSETS, owned(), "db-a", "a", {"v": 1}) == 1
        assert ensure_revision(registry, sts, STATEFULSETS, owned(), "db-b", "b", {"v": 2}) == 2
        assert ensure_revision(registry, sts, STATEFULSETS, owned(), "db-a", "a", {"v": 1}) == 3
        a = registry.get(REVISIONS, "default", "db-a")
        assert a["revision"] == 3
        assert a["metadata"]["labels"] == {"app": "db", "controller.kubernetes.io/hash": "a"}
        assert a["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
        assert a["data"] == {"v": 1}
    finally:
        registry.store.close()


def test_loop_statefulset_rolling_update_replaces_pods_from_the_top() -> None:
    with running(nodes=2) as (registry, _):
        registry.create(
            STATEFULSETS,
            "default",
            {
                "metadata": {"name": "db"},
                "spec": {
                    "replicas": 2,
                    "serviceName": "db",
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {
                        "metadata": {"labels": {"app": "db"}},
                        "spec": {"containers": [{"name": "c", "image": "v1"}]},
                    },
                },
            },
        )

        def kubelet() -> None:
            for p in pods(registry):
                if p["metadata"].get("deletionTimestamp"):
                    registry.delete(PODS, "default", p["metadata"]["name"], grace_period=0)
                elif (
                    p["spec"].get("nodeName") and (p.get("status") or {}).get("phase") != "Running"
                ):
                    mark(registry, p)

        def images() -> dict[str, str]:
            kubelet()
            return {
                p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods(registry)
            }

        wait_for(lambda: images() == {"db-0": "v1", "db-1": "v1"}, what="v1 up")
        (rev1,) = registry.list(REVISIONS, "default").items
        assert rev1["revision"] == 1
        assert (
            found(registry, PODS, "default", "db-0")["metadata"]["labels"][  # type: ignore[index]
                "controller-revision-hash"
            ]
            == rev1["metadata"]["name"]
        )
        s = registry.get(STATEFULSETS, "default", "db")
        tpl = {**s["spec"]["template"], "spec": {"containers": [{"name": "c", "image": "v2"}]}}
        registry.update(
            STATEFULSETS, "default", "db", {**s, "spec": {**s["spec"], "template": tpl}}
        )
        seen: list[dict[str, str]] = []

        def rolled() -> bool:
            now = images()
            if not seen or seen[-1] != now:
                seen.append(now)
            return now == {"db-0": "v2", "db-1": "v2"}

        wait_for(rolled, timeout=15, what="v2 everywhere")
        # db-1 went first: no state had db-0 on v2 while db-1 was still on v1
        assert {"db-0": "v2", "db-1": "v1"} not in seen
        revs = sorted(
            (r["revision"], r["metadata"]["name"])
            for r in registry.list(REVISIONS, "default").items
        )
        assert [n for n, _ in revs] == [1, 2]
        st = wait_for(
            lambda: (
                registry.get(STATEFULSETS, "default", "db")["status"]["currentRevision"]
                == revs[1][1]
            ),
            what="currentRevision moves on",
        )
        assert st
