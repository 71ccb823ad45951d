"""Registry create/get/list/update/patch against the MemoryStore (store.go semantics)."""

from __future__ import annotations

import copy
import random
import re
import threading
import time
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore

Obj = dict[str, Any]


def res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, POD, SVC, CM = res("Namespace"), res("Pod"), res("Service"), res("ConfigMap")
DEP, RS, JOB = res("Deployment", "apps"), res("ReplicaSet", "apps"), res("Job", "batch")


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
    r = Registry(MemoryStore(), clock=clock, rng=random.Random(0))
    r.create(NS, None, {"metadata": {"name": "default"}})
    return r


def pod(name: str = "p", **meta: Any) -> Obj:
    return {
        "metadata": {"name": name, **meta},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def deployment(name: str = "d", replicas: int = 1) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            },
        },
    }


def code(e: pytest.ExceptionInfo[ApiError]) -> tuple[int, str]:
    return e.value.code, e.value.reason


# --- create -----------------------------------------------------------------------------


def test_create_sets_system_fields(reg: Registry) -> None:
    p = reg.create(POD, "default", pod())
    meta = p["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert meta["generation"] == 1 and meta["namespace"] == "default"
    assert meta["resourceVersion"] == str(reg.store.current_rv())
    assert (p["apiVersion"], p["kind"]) == ("v1", "Pod")
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert reg.get(POD, "default", "p") == p


def test_create_clears_status_and_sets_namespace_fields(reg: Registry) -> None:
    body = deployment()
    body["status"] = {"replicas": 7}
    assert "status" not in reg.create(DEP, "default", body)
    ns = reg.create(NS, None, {"metadata": {"name": "prod"}, "status": {"phase": "Terminating"}})
    assert ns["status"] == {"phase": "Active"} and ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "prod"}
    assert "generation" not in ns["metadata"]


def test_generate_name_and_collision_retry(reg: Registry) -> None:
    p = reg.create(POD, "default", {**pod(), "metadata": {"generateName": "web-"}})
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", p["metadata"]["name"])
    # the same random sequence again: the first name is taken, a second one is drawn
    reg._rng = random.Random(0)
    reg.create(POD, "default", {**pod(), "metadata": {"generateName": "x-"}})
    reg._rng = random.Random(0)
    again = reg.create(POD, "default", {**pod(), "metadata": {"generateName": "x-"}})
    assert again["metadata"]["name"].startswith("x-")
    assert len(reg.list(POD, "default").items) == 3


def test_create_errors(reg: Registry) -> None:
    reg.create(POD, "default", pod())
    with pytest.raises(ApiError) as e:
        reg.create(POD, "default", pod())
    assert code(e) == (409, "AlreadyExists") and e.value.message == 'pods "p" already exists'
    with pytest.raises(ApiError) as e:
        reg.create(POD, "default", pod("q", namespace="other"))
    assert code(e) == (400, "BadRequest")
    assert e.value.message == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    with pytest.raises(ApiError) as e:
        reg.create(POD, "nope", pod("q"))
    assert code(e) == (404, "NotFound") and e.value.message == 'namespaces "nope" not found'
    with pytest.raises(ApiError) as e:
        reg.create(POD, "default", {"metadata": {}, "spec": {}})
    assert code(e) == (422, "Invalid")
    bad = pod("q")
    bad["spec"]["containers"][0]["image"] = ""
    with pytest.raises(ApiError) as e:
        reg.create(POD, "default", bad)
    assert code(e) == (422, "Invalid")
    assert 'Pod "q" is invalid: spec.containers[0].image: Required value' in e.value.message
    assert reg.list(POD, "default").items[0]["metadata"]["name"] == "p"  # nothing else stored


def test_namespace_from_body_when_path_has_none(reg: Registry) -> None:
    p = reg.create(POD, None, pod(namespace="default"))
    assert p["metadata"]["namespace"] == "default"


def test_terminating_namespace_refuses_new_content(reg: Registry) -> None:
    reg.create(NS, None, {"metadata": {"name": "gone"}})
    reg.delete(NS, None, "gone")
    with pytest.raises(ApiError) as e:
        reg.create(POD, "gone", pod())
    assert code(e) == (403, "Forbidden")
    assert "unable to create new content in namespace gone because it is being terminated" in (
        e.value.message
    )


def test_dry_run_create_stores_nothing(reg: Registry) -> None:
    rv = reg.store.current_rv()
    out = reg.create(
        SVC, "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}, dry_run=True
    )
    assert out["spec"]["clusterIP"] and reg.store.current_rv() == rv
    with pytest.raises(ApiError):
        reg.get(SVC, "default", "s")
    assert reg.allocators.ips.used() == 0


def test_job_selector_is_generated(reg: Registry) -> None:
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            }
        },
    }
    out = reg.create(JOB, "default", job)
    uid = out["metadata"]["uid"]
    assert out["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = out["spec"]["template"]["metadata"]["labels"]
    assert labels["controller-uid"] == labels["batch.kubernetes.io/controller-uid"] == uid
    assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "j"


def test_services_get_cluster_ips_and_release_them(reg: Registry) -> None:
    s = reg.create(
        SVC,
        "default",
        {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.0.5"}},
    )
    assert s["spec"]["clusterIPs"] == ["10.96.0.5"]
    with pytest.raises(ApiError) as e:
        reg.create(
            SVC,
            "default",
            {
                "metadata": {"name": "t"},
                "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.0.5"},
            },
        )
    assert "failed to allocate IP 10.96.0.5: provided IP is already allocated" in e.value.message
    reg.delete(SVC, "default", "s")
    reg.create(
        SVC,
        "default",
        {"metadata": {"name": "t"}, "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.0.5"}},
    )
    # a new registry over the same store knows the address is taken
    again = Registry(reg.store)
    with pytest.raises(ApiError):
        again.create(
            SVC,
            "default",
            {
                "metadata": {"name": "u"},
                "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.0.5"},
            },
        )


# --- list -------------------------------------------------------------------------------


def test_list_selectors_and_pages(reg: Registry) -> None:
    for i in range(7):
        reg.create(POD, "default", pod(f"p{i}", labels={"i": str(i), "even": str(i % 2 == 0)}))
    res_all = reg.list(POD, "default")
    assert [p["metadata"]["name"] for p in res_all.items] == [f"p{i}" for i in range(7)]
    assert res_all.resource_version == str(reg.store.current_rv())
    assert len(reg.list(POD, None, label_selector="even=True").items) == 4
    assert len(reg.list(POD, None, field_selector="metadata.name=p3").items) == 1
    page = reg.list(POD, "default", limit=3)
    assert len(page.items) == 3 and page.continue_token and page.remaining == 4
    names = [p["metadata"]["name"] for p in page.items]
    while page.continue_token:
        page = reg.list(POD, "default", limit=3, continue_token=page.continue_token)
        names += [p["metadata"]["name"] for p in page.items]
    assert names == [f"p{i}" for i in range(7)]
    sel_page = reg.list(POD, "default", label_selector="even=True", limit=2)
    assert sel_page.remaining is None  # as upstream: no count with a selector


def test_list_errors(reg: Registry) -> None:
    with pytest.raises(ApiError) as e:
        reg.list(POD, None, label_selector="a in (")
    assert code(e) == (400, "BadRequest")
    with pytest.raises(ApiError) as e:
        reg.list(POD, None, continue_token="not-a-token")
    assert code(e) == (400, "BadRequest")


def test_continue_token_from_a_compacted_rv_is_410() -> None:
    reg = Registry(MemoryStore(max_events=5))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    for i in range(4):
        reg.create(CM, "default", {"metadata": {"name": f"c{i}"}})
    token = reg.list(CM, "default", limit=1).continue_token
    for i in range(10):
        reg.create(CM, "default", {"metadata": {"name": f"x{i}"}})
    with pytest.raises(ApiError) as e:
        reg.list(CM, "default", limit=1, continue_token=token)
    assert code(e) == (410, "Expired")


# --- update -----------------------------------------------------------------------------


def test_update_cas_and_unconditional(reg: Registry) -> None:
    d = reg.create(DEP, "default", deployment())
    stale = copy.deepcopy(d)
    new = copy.deepcopy(d)
    new["spec"]["replicas"] = 3
    out = reg.update(DEP, "default", "d", new)
    assert out["metadata"]["generation"] == 2
    assert out["metadata"]["uid"] == d["metadata"]["uid"]
    stale["spec"]["replicas"] = 5
    with pytest.raises(ApiError) as e:
        reg.update(DEP, "default", "d", stale)
    assert code(e) == (409, "Conflict")
    assert e.value.message == (
        'Operation cannot be fulfilled on deployments.apps "d": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    del stale["metadata"]["resourceVersion"]
    assert reg.update(DEP, "default", "d", stale)["spec"]["replicas"] == 5  # unconditional


def test_update_keeps_system_fields_and_ignores_status(reg: Registry) -> None:
    d = reg.create(DEP, "default", deployment())
    new = copy.deepcopy(d)
    new["metadata"]["uid"] = "forged"
    new["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    new["metadata"]["labels"] = {"x": "y"}
    new["status"] = {"replicas": 9}
    out = reg.update(DEP, "default", "d", new)
    assert out["metadata"]["uid"] == d["metadata"]["uid"]
    assert out["metadata"]["creationTimestamp"] == d["metadata"]["creationTimestamp"]
    assert out["metadata"]["generation"] == 1  # labels only
    assert "status" not in out


def test_status_subresource_changes_only_status(reg: Registry) -> None:
    d = reg.create(DEP, "default", deployment())
    new = copy.deepcopy(d)
    new["status"] = {"replicas": 1, "observedGeneration": 1}
    new["spec"]["replicas"] = 9
    new["metadata"]["labels"] = {"x": "y"}
    out = reg.update(DEP, "default", "d", new, subresource="status")
    assert out["status"] == {"replicas": 1, "observedGeneration": 1}
    assert out["spec"]["replicas"] == 1 and "labels" not in out["metadata"]


def test_noop_update_writes_nothing(reg: Registry) -> None:
    d = reg.create(DEP, "default", deployment())
    rv = reg.store.current_rv()
    assert reg.update(DEP, "default", "d", copy.deepcopy(d)) is reg.get(DEP, "default", "d")
    assert reg.store.current_rv() == rv


def test_update_errors(reg: Registry) -> None:
    with pytest.raises(ApiError) as e:
        reg.update(POD, "default", "missing", pod("missing"))
    assert code(e) == (404, "NotFound")
    p = reg.create(POD, "default", pod())
    with pytest.raises(ApiError) as e:
        reg.update(POD, "default", "p", {**p, "metadata": {**p["metadata"], "name": "other"}})
    assert code(e) == (400, "BadRequest")
    moved = copy.deepcopy(p)
    moved["spec"]["restartPolicy"] = "Never"
    with pytest.raises(ApiError) as e:
        reg.update(POD, "default", "p", moved)
    assert code(e) == (422, "Invalid") and "pod updates may not change fields" in e.value.message
    image = copy.deepcopy(p)
    image["spec"]["containers"][0]["image"] = "nginx:2"
    assert reg.update(POD, "default", "p", image)["metadata"]["generation"] == 2
    svc = reg.create(SVC, "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    other = copy.deepcopy(svc)
    other["spec"]["clusterIP"] = other["spec"]["clusterIPs"][0] = "10.96.0.99"
    with pytest.raises(ApiError) as e:
        reg.update(SVC, "default", "s", other)
    assert "field is immutable" in e.value.message


def test_scale_subresource(reg: Registry) -> None:
    reg.create(DEP, "default", deployment())
    scale = reg.get(DEP, "default", "d", subresource="scale")
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 1} and scale["status"]["selector"] == "app=d"
    scale["spec"]["replicas"] = 4
    out = reg.update(DEP, "default", "d", scale, subresource="scale")
    assert out["kind"] == "Scale" and out["spec"]["replicas"] == 4
    assert reg.get(DEP, "default", "d")["spec"]["replicas"] == 4
    with pytest.raises(ApiError) as e:
        reg.update(DEP, "default", "d", scale, subresource="scale")  # stale rv
    assert code(e) == (409, "Conflict")


def test_finalizer_removal_deletes_a_deleting_object(reg: Registry) -> None:
    reg.create(CM, "default", {"metadata": {"name": "c", "finalizers": ["example.com/x"]}})
    kept = reg.delete(CM, "default", "c")
    assert kept["metadata"]["deletionTimestamp"] and reg.get(CM, "default", "c")
    cleared = copy.deepcopy(kept)
    cleared["metadata"]["finalizers"] = []
    reg.update(CM, "default", "c", cleared)
    with pytest.raises(ApiError):
        reg.get(CM, "default", "c")


def test_update_fills_defaults(reg: Registry) -> None:
    d = reg.create(DEP, "default", deployment())
    new = copy.deepcopy(d)
    del new["spec"]["revisionHistoryLimit"]
    assert reg.update(DEP, "default", "d", new)["spec"]["revisionHistoryLimit"] == 10


# --- patch (apply_patch stubbed: podnet/apiserver/patch.py is another helper's) ---------


def merge(current: Obj, patch: Obj) -> Obj:
    out = copy.deepcopy(current)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def test_patch_goes_through_the_update_path(clock: Clock) -> None:
    calls: list[str] = []

    def patcher(res: Resource, current: Obj, patch_type: str, body: Any) -> Obj:
        calls.append(patch_type)
        return merge(current, body)

    reg = Registry(MemoryStore(), clock=clock, patcher=patcher)
    reg.create(NS, None, {"metadata": {"name": "default"}})
    reg.create(DEP, "default", deployment())
    out = reg.patch(DEP, "default", "d", "application/merge-patch+json", {"spec": {"replicas": 2}})
    assert out["spec"]["replicas"] == 2 and out["metadata"]["generation"] == 2
    scale = reg.patch(
        DEP,
        "default",
        "d",
        "application/merge-patch+json",
        {"spec": {"replicas": 6}},
        subresource="scale",
    )
    assert scale["kind"] == "Scale" and reg.get(DEP, "default", "d")["spec"]["replicas"] == 6
    st = reg.patch(
        DEP,
        "default",
        "d",
        "application/merge-patch+json",
        {"status": {"replicas": 6}},
        subresource="status",
    )
    assert st["status"] == {"replicas": 6}
    with pytest.raises(ApiError) as e:
        reg.patch(DEP, "default", "d", "application/merge-patch+json", {"spec": {"replicas": -1}})
    assert code(e) == (422, "Invalid")
    with pytest.raises(ApiError) as e:
        reg.patch(
            DEP,
            "default",
            "d",
            "application/merge-patch+json",
            {"metadata": {"resourceVersion": "1"}},
        )
    assert code(e) == (409, "Conflict")
    with pytest.raises(ApiError) as e:
        reg.patch(DEP, "default", "nope", "application/merge-patch+json", {})
    assert code(e) == (404, "NotFound")
    assert calls.count("application/merge-patch+json") == 5


def test_patch_retries_when_another_writer_gets_in(clock: Clock) -> None:
    reg: Registry

    def patcher(res: Resource, current: Obj, patch_type: str, body: Any) -> Obj:
        if not calls:  # a concurrent writer changes the object after our read
            other = copy.deepcopy(current)
            other["metadata"]["labels"] = {"by": "other"}
            reg.update(DEP, "default", "d", other)
        calls.append(1)
        return merge(current, body)

    calls: list[int] = []
    reg = Registry(MemoryStore(), clock=clock, patcher=patcher)
    reg.create(NS, None, {"metadata": {"name": "default"}})
    reg.create(DEP, "default", deployment())
    out = reg.patch(DEP, "default", "d", "application/merge-patch+json", {"spec": {"replicas": 3}})
    assert len(calls) == 2  # re-read and applied again
    assert out["spec"]["replicas"] == 3 and out["metadata"]["labels"] == {"by": "other"}


def test_apply_patch_creates_when_missing(clock: Clock) -> None:
    seen: list[tuple[Obj | None, str, bool]] = []

    def applier(
        res: Resource,
        current: Obj | None,
        applied: Obj,
        manager: str,
        *,
        force: bool,
        now: str,
        subresource: str,
    ) -> Obj:
        seen.append((current, manager, force))
        return merge(current or {}, applied)

    reg = Registry(MemoryStore(), clock=clock, applier=applier)
    reg.create(NS, None, {"metadata": {"name": "default"}})
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    out = reg.patch(
        CM, "default", "c", "application/apply-patch+yaml", body, field_manager="kubectl"
    )
    assert out["data"] == {"a": "1"} and seen[0] == (None, "kubectl", False)
    out = reg.patch(
        CM,
        "default",
        "c",
        "application/apply-patch+yaml",
        {**body, "data": {"a": "2"}},
        field_manager="kubectl",
        force=True,
    )
    assert out["data"] == {"a": "2"} and seen[1][0] is not None and seen[1][2] is True
    with pytest.raises(ApiError) as e:
        reg.patch(CM, "default", "c", "application/apply-patch+yaml", body)
    assert code(e) == (400, "BadRequest")


# --- patch and apply through podnet/apiserver/patch.py and apply.py ---------------------


def test_real_patch_types(reg: Registry) -> None:
    reg.create(DEP, "default", deployment())
    smp = b'{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}}'
    out = reg.patch(DEP, "default", "d", "application/strategic-merge-patch+json", smp)
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert out["metadata"]["generation"] == 2
    jp = b'[{"op":"replace","path":"/spec/replicas","value":3}]'
    out = reg.patch(DEP, "default", "d", "application/json-patch+json", jp)
    assert out["spec"]["replicas"] == 3
    scale = reg.patch(
        DEP,
        "default",
        "d",
        "application/merge-patch+json",
        b'{"spec":{"replicas":5}}',
        subresource="scale",
    )
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 5


def test_server_side_apply_creates_then_updates_with_managed_fields(reg: Registry) -> None:
    cfg = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    out = reg.patch(
        CM, "default", "c", "application/apply-patch+yaml", cfg, field_manager="kubectl"
    )
    assert out["data"] == {"a": "1"}
    managers = [(m["manager"], m["operation"]) for m in out["metadata"]["managedFields"]]
    assert managers == [("kubectl", "Apply")]
    cfg2 = cfg.replace(b"'1'", b"'2'")
    out = reg.patch(
        CM, "default", "c", "application/apply-patch+yaml", cfg2, field_manager="kubectl"
    )
    assert out["data"] == {"a": "2"}
    with pytest.raises(ApiError) as e:  # another manager changing kubectl's field: 409
        reg.patch(CM, "default", "c", "application/apply-patch+yaml", cfg, field_manager="other")
    assert e.value.code == 409


def test_field_manager_records_update_entries(reg: Registry) -> None:
    c = reg.create(
        CM,
        "default",
        {"metadata": {"name": "c"}, "data": {"a": "1"}},
        field_manager="kubectl-create",
    )
    assert [(m["manager"], m["operation"]) for m in c["metadata"]["managedFields"]] == [
        ("kubectl-create", "Update")
    ]
    new = copy.deepcopy(c)
    new["data"]["b"] = "2"
    out = reg.update(CM, "default", "c", new, field_manager="kubectl-edit")
    assert {m["manager"] for m in out["metadata"]["managedFields"]} == {
        "kubectl-create",
        "kubectl-edit",
    }


def test_concurrent_patches_lose_no_update(clock: Clock) -> None:
    def patcher(res: Resource, current: Obj, patch_type: str, body: Any) -> Obj:
        out = copy.deepcopy(current)
        n = int(out["data"]["n"])
        time.sleep(0.0002)  # let another writer in between the read and the write
        out["data"]["n"] = str(n + 1)
        return out

    reg = Registry(MemoryStore(), clock=clock, patcher=patcher)
    reg.create(NS, None, {"metadata": {"name": "default"}})
    reg.create(CM, "default", {"metadata": {"name": "c"}, "data": {"n": "0"}})
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                reg.patch(CM, "default", "c", "application/merge-patch+json", b"{}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert reg.get(CM, "default", "c")["data"]["n"] == "200"
