"""The API's semantics as kube-apiserver documents them, checked through a real client
(the Python `kubernetes` package over HTTPS) against `podnet up`: optimistic
concurrency, watches resuming from a resourceVersion (410 past the log: in
test_up_lifecycle, after a restart), selectors,
dry-run, generateName, garbage collection, graceful pod deletion and the Status shapes
(https://kubernetes.io/docs/reference/using-api/api-concepts/)."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support.kube import UpCluster, eventually, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel
kubernetes: Any = pytest.importorskip("kubernetes")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "2") as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@pytest.fixture
def api(up: UpCluster) -> Iterator[Any]:
    client = kubernetes.config.new_client_from_config(config_file=str(up.kubeconfig))
    _UPS[id(client)] = up
    try:
        yield client
    finally:
        _UPS.pop(id(client), None)
        client.close()


_UPS: dict[int, UpCluster] = {}


def up_of(api: Any) -> UpCluster:
    return _UPS[id(api)]


def _raw(up: UpCluster, path: str) -> Any:
    """A GET with the cluster's bearer token, without a client library."""
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    token = (up.data_dir / "token").read_text().strip()
    request = urllib.request.Request(up.server + path, headers={"Authorization": f"Bearer {token}"})
    return urllib.request.urlopen(request, context=insecure, timeout=10)


def _core(api: Any) -> Any:
    return kubernetes.client.CoreV1Api(api)


def _status(e: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(e.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    return body


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


def test_stale_resource_version_is_a_409_conflict(api: Any) -> None:
    core = _core(api)
    created = core.create_namespaced_config_map("default", _cm("cas", v="1"))
    rv = created.metadata.resource_version
    core.patch_namespaced_config_map("cas", "default", {"data": {"v": "2"}})
    stale = _cm("cas", v="3")
    stale["metadata"]["resourceVersion"] = rv
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.replace_namespaced_config_map("cas", "default", stale)
    body = _status(e.value)
    assert e.value.status == 409 and body["reason"] == "Conflict", body
    assert "the object has been modified" in body["message"]
    assert core.read_namespaced_config_map("cas", "default").data == {"v": "2"}


def test_concurrent_writers_lose_no_update(api: Any) -> None:
    """Eight clients each add 10 to a counter by read-modify-write with resourceVersion
    preconditions, retrying on 409: the total is exact."""
    core = _core(api)
    core.create_namespaced_config_map("default", _cm("counter", n="0"))

    def add(times: int) -> None:
        for _ in range(times):
            while True:
                cur = core.read_namespaced_config_map("counter", "default")
                cur.data["n"] = str(int(cur.data["n"]) + 1)
                try:
                    core.replace_namespaced_config_map("counter", "default", cur)
                    break
                except kubernetes.client.ApiException as e:
                    assert e.status == 409

    workers = [threading.Thread(target=add, args=(10,)) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert core.read_namespaced_config_map("counter", "default").data == {"n": "80"}


def test_watch_resumes_from_a_resource_version(api: Any) -> None:
    core = _core(api)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", _cm("w1"))
    core.create_namespaced_config_map("default", _cm("w2"))
    w = kubernetes.watch.Watch()
    seen = []
    for ev in w.stream(
        core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "w1"), ("ADDED", "w2")]


def test_label_and_field_selectors(api: Any) -> None:
    core = _core(api)
    for name, tier in (("sel-a", "front"), ("sel-b", "back"), ("sel-c", "front")):
        body = _cm(name)
        body["metadata"]["labels"] = {"tier": tier, "sel": "yes"}
        core.create_namespaced_config_map("default", body)

    def names(items: list[Any]) -> list[str]:
        return sorted(str(i.metadata.name) for i in items)

    got = core.list_namespaced_config_map("default", label_selector="sel,tier in (front)")
    assert names(got.items) == ["sel-a", "sel-c"]
    got = core.list_namespaced_config_map("default", label_selector="sel=yes,tier!=front")
    assert names(got.items) == ["sel-b"]
    got = core.list_namespaced_config_map("default", field_selector="metadata.name=sel-b")
    assert names(got.items) == ["sel-b"]
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.list_namespaced_config_map("default", field_selector="data.x=1")
    assert e.value.status == 400 and "field label not supported" in _status(e.value)["message"]
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.list_namespaced_config_map("default", label_selector="a in (")
    assert e.value.status == 400


def test_dry_run_changes_nothing_and_generate_name_makes_names(api: Any) -> None:
    core = _core(api)
    before = core.list_namespaced_config_map("default").metadata.resource_version
    out = core.create_namespaced_config_map("default", _cm("dry"), dry_run="All")
    assert out.metadata.name == "dry" and out.metadata.uid
    assert [
        i for i in core.list_namespaced_config_map("default").items if i.metadata.name == "dry"
    ] == []
    assert core.list_namespaced_config_map("default").metadata.resource_version == before
    made = core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "gen-"}, "data": {}}
    )
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == len("gen-") + 5


def test_invalid_objects_get_422_with_field_causes_and_change_nothing(api: Any) -> None:
    core = _core(api)
    bad = {
        "metadata": {"name": "bad-svc"},
        "spec": {"ports": [{"port": 70000}], "selector": {"app": "x"}},
    }
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.create_namespaced_service("default", bad)
    body = _status(e.value)
    assert e.value.status == 422 and body["reason"] == "Invalid", body
    assert any("ports[0].port" in c["field"] for c in body["details"]["causes"]), body
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.read_namespaced_service("bad-svc", "default")
    assert e.value.status == 404 and _status(e.value)["details"]["kind"] == "services"


def test_garbage_collection_background_and_orphan(api: Any) -> None:
    core = _core(api)
    apps: Any = kubernetes.client.AppsV1Api(api)

    def rs(name: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"rs": name}},
                "template": {
                    "metadata": {"labels": {"rs": name}},
                    # sleep as its container's pid 1 ignores SIGTERM, as on any cluster:
                    # a pod that started before the collector deleted it would wait out
                    # a 30 s grace, as long as the wait below (the CI failure of cd0a679)
                    "spec": {"terminationGracePeriodSeconds": 1,
                             "containers": [{"name": "c", "image": "busybox",
                                             "command": ["sleep", "3600"]}]},
                },
            },
        }  # fmt: skip

    def pods_of(name: str) -> list[Any]:
        return list(core.list_namespaced_pod("default", label_selector=f"rs={name}").items)

    for name in ("gc-bg", "gc-orphan"):
        apps.create_namespaced_replica_set("default", rs(name))
        eventually(lambda n=name: len(pods_of(n)) == 1, 20, f"{name}'s pod")  # type: ignore[misc]
    apps.delete_namespaced_replica_set("gc-bg", "default", propagation_policy="Background")
    try:
        eventually(lambda: pods_of("gc-bg") == [], 30, "the background-deleted set's pod goes")
    except BaseException:
        for p in pods_of("gc-bg"):  # what kept it: its deletion, its containers, its Events
            print(api.sanitize_for_serialization(p))
            sel = f"involvedObject.name={p.metadata.name}"
            for e in core.list_namespaced_event("default", field_selector=sel).items:
                print(e.reason, e.message)
        raise
    apps.delete_namespaced_replica_set("gc-orphan", "default", propagation_policy="Orphan")

    def orphaned() -> bool:
        pods = pods_of("gc-orphan")
        return len(pods) == 1 and not pods[0].metadata.owner_references

    eventually(orphaned, 30, "the orphaned pod stays, without its owner reference")


def test_graceful_pod_deletion(api: Any) -> None:
    core = _core(api)
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "graceful"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]
            },
        },
    )

    def running() -> bool:
        return bool(core.read_namespaced_pod("graceful", "default").status.phase == "Running")

    eventually(running, 30, "pod Running")
    out = core.delete_namespaced_pod("graceful", "default", grace_period_seconds=5)
    assert out.metadata.deletion_timestamp is not None  # kept until the kubelet is done

    def gone() -> bool:
        return "graceful" not in [
            p.metadata.name for p in core.list_namespaced_pod("default").items
        ]

    eventually(gone, 20, "the kubelet stops it and deletes it for good")


def test_unknown_paths_get_404_status(up: UpCluster) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        _raw(up, "/apis/nope.example.com/v1/things")
    body = json.loads(e.value.read())
    e.value.close()
    assert e.value.code == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
