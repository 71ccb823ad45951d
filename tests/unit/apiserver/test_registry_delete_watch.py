"""Registry delete (preconditions, finalizers, propagation, pod grace, namespaces), watch
semantics (api-concepts#semantics-for-watch) and Events."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.events import record_event
from podnet.apiserver.registry import Registry
from podnet.apiserver.registry_watch import RegistryWatch, WatchEvent
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore

Obj = dict[str, Any]


def res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, POD, CM, EV = res("Namespace"), res("Pod"), res("ConfigMap"), res("Event")
DEP, RC = res("Deployment", "apps"), res("ReplicationController")


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reg(clock: Clock) -> Registry:
    r = Registry(MemoryStore(), clock=clock)
    r.create(NS, None, {"metadata": {"name": "default"}})
    return r


def pod(name: str = "p", labels: dict[str, str] | None = None, node: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def cm(name: str, **meta: Any) -> Obj:
    return {"metadata": {"name": name, **meta}}


def gone(reg: Registry, r: Resource, name: str, ns: str | None = "default") -> bool:
    try:
        reg.get(r, ns, name)
    except ApiError as e:
        return e.code == 404
    return False


# --- delete -----------------------------------------------------------------------------


def test_delete_returns_the_object_and_removes_it(reg: Registry) -> None:
    reg.create(CM, "default", cm("c"))
    out = reg.delete(CM, "default", "c")
    assert out["metadata"]["name"] == "c" and gone(reg, CM, "c")
    with pytest.raises(ApiError) as e:
        reg.delete(CM, "default", "c")
    assert e.value.code == 404


def test_delete_preconditions(reg: Registry) -> None:
    c = reg.create(CM, "default", cm("c"))
    with pytest.raises(ApiError) as e:
        reg.delete(CM, "default", "c", preconditions={"uid": "other"})
    assert e.value.code == 409
    assert "Precondition failed: UID in precondition: other" in e.value.message
    with pytest.raises(ApiError) as e:
        reg.delete(CM, "default", "c", preconditions={"resourceVersion": "1"})
    assert e.value.code == 409
    meta = c["metadata"]
    reg.delete(
        CM,
        "default",
        "c",
        preconditions={"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
    )
    assert gone(reg, CM, "c")


def test_finalizers_keep_the_object(reg: Registry, clock: Clock) -> None:
    reg.create(CM, "default", cm("c", finalizers=["example.com/f"]))
    out = reg.delete(CM, "default", "c")
    assert out["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"
    assert out["metadata"]["deletionGracePeriodSeconds"] == 0
    assert reg.get(CM, "default", "c")["metadata"]["finalizers"] == ["example.com/f"]


@pytest.mark.parametrize(
    ("r", "propagation", "finalizer"),
    [
        (DEP, "Orphan", "orphan"),
        (DEP, "Foreground", "foregroundDeletion"),
        (RC, None, "orphan"),  # core/v1 RC orphans by default, for compatibility
    ],
)
def test_propagation_adds_gc_finalizers(
    reg: Registry, r: Resource, propagation: str | None, finalizer: str
) -> None:
    template = {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]},
    }
    spec: Obj = {"template": template, "selector": {"a": "b"}}
    if r is DEP:
        spec["selector"] = {"matchLabels": {"a": "b"}}
    reg.create(r, "default", {"metadata": {"name": "w"}, "spec": spec})
    out = reg.delete(r, "default", "w", propagation=propagation)
    assert out["metadata"]["finalizers"] == [finalizer] and out["metadata"]["deletionTimestamp"]


def test_background_deletes_now(reg: Registry) -> None:
    reg.create(
        RC,
        "default",
        {
            "metadata": {"name": "w"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "x:1"}]},
                }
            },
        },
    )
    reg.delete(RC, "default", "w", propagation="Background")
    assert gone(reg, RC, "w")


def test_bound_pod_deletion_is_graceful(reg: Registry, clock: Clock) -> None:
    reg.create(POD, "default", pod(node="node-0"))
    out = reg.delete(POD, "default", "p")
    assert out["metadata"]["deletionGracePeriodSeconds"] == 30
    assert out["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:50Z"  # now + 30 s
    assert not gone(reg, POD, "p")
    longer = reg.delete(POD, "default", "p", grace_period=60)  # may only shorten
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 30
    shorter = reg.delete(POD, "default", "p", grace_period=10)
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    reg.delete(POD, "default", "p", grace_period=0)  # the kubelet, once stopped
    assert gone(reg, POD, "p")


def test_unbound_or_finished_pods_go_at_once(reg: Registry) -> None:
    reg.create(POD, "default", pod("a"))
    reg.delete(POD, "default", "a")
    assert gone(reg, POD, "a")
    p = reg.create(POD, "default", pod("b", node="node-0"))
    done = copy.deepcopy(p)
    done["status"] = {"phase": "Succeeded"}
    reg.update(POD, "default", "b", done, subresource="status")
    reg.delete(POD, "default", "b")
    assert gone(reg, POD, "b")


def test_dry_run_delete_keeps_the_object(reg: Registry) -> None:
    reg.create(CM, "default", cm("c"))
    reg.delete(CM, "default", "c", dry_run=True)
    assert not gone(reg, CM, "c")


def test_namespace_deletion_terminates_then_finalize_removes(reg: Registry) -> None:
    reg.create(NS, None, {"metadata": {"name": "prod"}})
    out = reg.delete(NS, None, "prod")
    assert out["status"]["phase"] == "Terminating" and out["metadata"]["deletionTimestamp"]
    current = reg.get(NS, None, "prod")
    assert current["spec"]["finalizers"] == ["kubernetes"]
    plain = copy.deepcopy(current)
    plain["spec"]["finalizers"] = []
    reg.update(NS, None, "prod", plain)  # the main resource cannot drop spec.finalizers
    assert reg.get(NS, None, "prod")["spec"]["finalizers"] == ["kubernetes"]
    reg.update(NS, None, "prod", plain, subresource="finalize")
    assert gone(reg, NS, "prod", None)


# --- watch ------------------------------------------------------------------------------


def drain(w: RegistryWatch) -> list[tuple[str, str]]:
    return [(e.type, e.object["metadata"].get("name", "")) for e in w.poll()]


def test_watch_from_empty_rv_sends_current_state_then_changes(reg: Registry) -> None:
    reg.create(CM, "default", cm("a"))
    w = reg.watch(CM, "default")
    try:
        assert drain(w) == [("ADDED", "a")]
        reg.create(CM, "default", cm("b"))
        reg.delete(CM, "default", "a")
        assert drain(w) == [("ADDED", "b"), ("DELETED", "a")]
    finally:
        w.close()
    w0 = reg.watch(CM, "default", resource_version="0")
    assert drain(w0) == [("ADDED", "b")]
    w0.close()


def test_watch_from_rv_is_exactly_after_it(reg: Registry) -> None:
    a = reg.create(CM, "default", cm("a"))
    reg.create(CM, "default", cm("b"))
    w = reg.watch(CM, "default", resource_version=a["metadata"]["resourceVersion"])
    assert drain(w) == [("ADDED", "b")]
    w.close()


def test_watch_too_old_is_410() -> None:
    reg = Registry(MemoryStore(max_events=3))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    for i in range(6):
        reg.create(CM, "default", cm(f"c{i}"))
    with pytest.raises(ApiError) as e:
        reg.watch(CM, "default", resource_version="1")
    assert (e.value.code, e.value.reason) == (410, "Expired")


def test_watch_filters_by_namespace_and_selector_transitions(reg: Registry) -> None:
    reg.create(NS, None, {"metadata": {"name": "other"}})
    w = reg.watch(POD, "default", label_selector="app=web")
    try:
        reg.create(POD, "other", pod("elsewhere", {"app": "web"}))
        p = reg.create(POD, "default", pod("p", {"app": "db"}))
        assert drain(w) == []
        web = copy.deepcopy(p)
        web["metadata"]["labels"] = {"app": "web"}
        web = reg.update(POD, "default", "p", web)
        assert drain(w) == [("ADDED", "p")]
        web2 = copy.deepcopy(web)
        web2["metadata"]["annotations"] = {"x": "y"}
        web2 = reg.update(POD, "default", "p", web2)
        assert drain(w) == [("MODIFIED", "p")]
        db = copy.deepcopy(web2)
        db["metadata"]["labels"] = {"app": "db"}
        db = reg.update(POD, "default", "p", db)
        events = w.poll()
        assert [(e.type, e.object["metadata"]["labels"]) for e in events] == [
            ("DELETED", {"app": "web"})
        ]
        assert events[0].object["metadata"]["resourceVersion"] == db["metadata"]["resourceVersion"]
    finally:
        w.close()


def test_watch_field_selector(reg: Registry) -> None:
    w = reg.watch(POD, None, field_selector="spec.nodeName=node-1")
    reg.create(POD, "default", pod("a", node="node-0"))
    reg.create(POD, "default", pod("b", node="node-1"))
    assert drain(w) == [("ADDED", "b")]
    w.close()


def test_send_initial_events_ends_with_bookmark(reg: Registry) -> None:
    reg.create(CM, "default", cm("a"))
    w = reg.watch(CM, "default", send_initial_events=True, resource_version="")
    events = w.poll()
    assert [e.type for e in events] == ["ADDED", "BOOKMARK"]
    mark = events[-1].object
    assert mark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert mark["metadata"]["resourceVersion"] == str(reg.store.current_rv())
    w.close()


def test_bookmark_and_blocking_get(reg: Registry) -> None:
    w = reg.watch(CM, "default")
    woken: list[int] = []
    w.on_ready = lambda: woken.append(1)
    c = reg.create(CM, "default", cm("a"))
    assert woken
    ev = w.get(timeout=1)
    assert isinstance(ev, WatchEvent) and ev.type == "ADDED"
    assert w.get(timeout=0.01) is None
    bm = w.bookmark()
    assert bm.type == "BOOKMARK" and bm.object["kind"] == "ConfigMap"
    assert bm.object["metadata"]["resourceVersion"] == c["metadata"]["resourceVersion"]
    w.close()
    assert w.closed


def test_slow_watcher_gets_an_error_event() -> None:
    reg = Registry(MemoryStore(max_queue=2))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    w = reg.watch(CM, "default", resource_version=str(reg.store.current_rv()))
    for i in range(4):
        reg.create(CM, "default", cm(f"c{i}"))
    events = w.poll()
    assert events[-1].type == "ERROR" and events[-1].object["code"] == 410
    w.close()


# --- events -----------------------------------------------------------------------------


def test_record_event_creates_then_aggregates(reg: Registry, clock: Clock) -> None:
    p = reg.create(POD, "default", pod())
    first = record_event(reg, p, "Normal", "Scheduled", "assigned to node-0", "default-scheduler")
    assert first is not None
    assert first["involvedObject"]["uid"] == p["metadata"]["uid"]
    assert first["involvedObject"]["kind"] == "Pod" and first["count"] == 1
    assert first["source"] == {"component": "default-scheduler"}
    clock.t += 10
    again = record_event(reg, p, "Normal", "Scheduled", "assigned to node-0", "default-scheduler")
    assert again is not None and again["metadata"]["name"] == first["metadata"]["name"]
    assert again["count"] == 2
    assert again["firstTimestamp"] == first["firstTimestamp"] != again["lastTimestamp"]
    record_event(reg, p, "Warning", "BackOff", "back-off", "kubelet")
    listed = reg.list(EV, "default", field_selector=f"involvedObject.uid={p['metadata']['uid']}")
    assert sorted(e["reason"] for e in listed.items) == ["BackOff", "Scheduled"]


def test_events_about_cluster_objects_go_to_default(reg: Registry) -> None:
    node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "node-0", "uid": "n"}}
    ev = record_event(reg, node, "Normal", "NodeReady", "ready", "kubelet")
    assert ev is not None and ev["metadata"]["namespace"] == "default"


def test_no_new_finalizers_while_deleting(reg: Registry) -> None:
    reg.create(CM, "default", cm("c", finalizers=["a.io/x"]))
    kept = copy.deepcopy(reg.delete(CM, "default", "c"))
    kept["metadata"]["finalizers"] = ["a.io/x", "b.io/y"]
    with pytest.raises(ApiError) as e:
        reg.update(CM, "default", "c", kept)
    assert e.value.code == 422 and "no new finalizers can be added" in e.value.message


def test_events_at_the_same_instant_get_distinct_names(reg: Registry) -> None:
    p = reg.create(POD, "default", pod())
    a = record_event(reg, p, "Normal", "Pulled", "pulled", "kubelet")
    b = record_event(reg, p, "Normal", "Created", "created", "kubelet")
    assert a is not None and b is not None
    assert a["metadata"]["name"] != b["metadata"]["name"]
