"""Server-side apply and managedFields, on the paths ``kubectl apply --server-side``
(create, update, conflict, ``--force-conflicts``) and helm take, checked against what
kube-apiserver answers (``managedfields`` and structured-merge-diff)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from podnet.apiserver import apply, errors
from podnet.apiserver.resources import Resource, by_kind

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


def res(group: str, kind: str) -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


DEP = res("apps", "Deployment")


def config(replicas: int = 2, image: str = "nginx:1", **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    c["spec"].update(extra)
    return c


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def test_create_by_apply_records_fieldsv1() -> None:
    obj = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    assert obj["spec"]["replicas"] == 2
    (entry,) = obj["metadata"]["managedFields"]
    assert {k: v for k, v in entry.items() if k != "fieldsV1"} == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
    }
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}  # no name/namespace
    assert fields["f:spec"]["f:replicas"] == {}
    assert fields["f:spec"]["f:selector"] == {}  # atomic map: one leaf
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["."] == {}
    assert container["f:image"] == {}
    # the port's key carries protocol's default, as the live (defaulted) item has it
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]


def test_apply_from_yaml_bytes() -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n"
    obj = apply.server_side_apply(res("", "ConfigMap"), None, body, "helm", force=False, now=T0)
    assert obj["data"] == {"k": "v"}
    # a declared field holding a non-empty map is no member of its own (toFieldSet)
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:k": {}}}


def test_reapply_same_config_changes_nothing_and_keeps_time() -> None:
    a = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    b = apply.server_side_apply(DEP, a, config(), "kubectl", force=False, now=T1)
    assert a == b


def test_update_merges_into_live_and_keeps_other_fields() -> None:
    a = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    live = copy.deepcopy(a)
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["status"] = {"replicas": 2}
    b = apply.server_side_apply(DEP, live, config(image="nginx:2"), "kubectl", force=False, now=T1)
    (c,) = b["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "nginx:2"
    assert c["imagePullPolicy"] == "IfNotPresent"  # defaulted field nobody applied stays
    assert b["status"] == {"replicas": 2}
    assert entries(b)[("kubectl", "Apply")]["time"] == T1


def test_fields_dropped_from_the_config_are_removed() -> None:
    a = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    smaller = config()
    del smaller["spec"]["template"]["spec"]["containers"][0]["ports"]
    del smaller["spec"]["replicas"]
    b = apply.server_side_apply(DEP, a, smaller, "kubectl", force=False, now=T1)
    assert "replicas" not in b["spec"]
    assert "ports" not in b["spec"]["template"]["spec"]["containers"][0] or (
        b["spec"]["template"]["spec"]["containers"][0]["ports"] == []
    )
    assert "f:replicas" not in entries(b)[("kubectl", "Apply")]["fieldsV1"]["f:spec"]


def test_dropped_field_still_owned_by_another_manager_stays() -> None:
    a = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    b = apply.server_side_apply(DEP, a, config(), "other", force=False, now=T1)
    smaller = config()
    del smaller["spec"]["replicas"]
    c = apply.server_side_apply(DEP, b, smaller, "kubectl", force=False, now=T2)
    assert c["spec"]["replicas"] == 2  # shared owner "other" keeps it
    assert "f:replicas" in entries(c)[("other", "Apply")]["fieldsV1"]["f:spec"]


def scaled_by_controller() -> dict[str, Any]:
    a = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    scaled = copy.deepcopy(a)
    scaled["spec"]["replicas"] = 5
    return apply.track_update(DEP, a, scaled, "kube-controller-manager", T1)


def test_update_entry_takes_the_changed_field_from_the_applier() -> None:
    b = scaled_by_controller()
    e = entries(b)
    assert e[("kube-controller-manager", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in e[("kubectl", "Apply")]["fieldsV1"]["f:spec"]
    # Apply entries sort before Update entries (sortEncodedManagedFields)
    assert [m["operation"] for m in b["metadata"]["managedFields"]] == ["Apply", "Update"]


def test_conflict_with_another_manager_is_409() -> None:
    b = scaled_by_controller()
    with pytest.raises(errors.ApiError) as e:
        apply.server_side_apply(DEP, b, config(replicas=3), "kubectl", force=False, now=T2)
    st = e.value.status()
    assert st["code"] == 409
    assert st["reason"] == "Conflict"
    assert st["message"] == (
        'Apply failed with 1 conflict: conflict with "kube-controller-manager" '
        "using apps/v1: .spec.replicas"
    )
    assert st["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kube-controller-manager" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_same_value_is_no_conflict_but_shared_ownership() -> None:
    b = scaled_by_controller()
    c = apply.server_side_apply(DEP, b, config(replicas=5), "kubectl", force=False, now=T2)
    e = entries(c)
    assert "f:replicas" in e[("kubectl", "Apply")]["fieldsV1"]["f:spec"]
    assert "f:replicas" in e[("kube-controller-manager", "Update")]["fieldsV1"]["f:spec"]


def test_force_takes_ownership() -> None:
    b = scaled_by_controller()
    c = apply.server_side_apply(DEP, b, config(replicas=3), "kubectl", force=True, now=T2)
    assert c["spec"]["replicas"] == 3
    e = entries(c)
    assert ("kube-controller-manager", "Update") not in e  # its only field went
    assert "f:replicas" in e[("kubectl", "Apply")]["fieldsV1"]["f:spec"]


def test_two_appliers_conflict_message_lists_each_field() -> None:
    a = apply.server_side_apply(DEP, None, config(), "alice", force=False, now=T0)
    with pytest.raises(errors.ApiError) as e:
        apply.server_side_apply(
            DEP, a, config(replicas=4, image="nginx:3"), "bob", force=False, now=T1
        )
    fields = [c["field"] for c in (e.value.details or {})["causes"]]
    assert fields == [".spec.replicas", '.spec.template.spec.containers[name="nginx"].image']
    assert e.value.message.startswith('Apply failed with 2 conflicts: conflicts with "alice":\n')


def test_object_without_managed_fields_belongs_to_before_first_apply() -> None:
    live = config()
    live["metadata"]["uid"] = "u1"
    with pytest.raises(errors.ApiError) as e:
        apply.server_side_apply(DEP, live, config(replicas=9), "kubectl", force=False, now=T0)
    assert '"before-first-apply" using apps/v1' in e.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (dict(config(), apiVersion="apps/v2"), "Incorrect version specified in apply patch"),
        (
            {**config(), "metadata": {"name": "web", "managedFields": []}},
            "metadata.managedFields must be nil",
        ),
    ],
)
def test_bad_configurations_are_400(body: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ApiError) as e:
        apply.server_side_apply(DEP, None, body, "kubectl", force=False, now=T0)
    assert e.value.code == 400
    assert message in e.value.message


def test_bad_yaml_is_400() -> None:
    with pytest.raises(errors.ApiError) as e:
        apply.server_side_apply(DEP, None, b"a: [", "kubectl", force=False, now=T0)
    assert e.value.code == 400
    assert e.value.message.startswith("error decoding YAML")


def test_track_update_on_create_and_untracked_update() -> None:
    pod = res("", "Pod")
    new = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"run": "p"}},
        "spec": {"containers": [{"name": "p", "image": "nginx", "resources": {}}]},
        "status": {"phase": "Pending"},
    }
    created = apply.track_update(pod, None, new, "kubectl-run", T0)
    (e,) = created["metadata"]["managedFields"]
    assert (e["manager"], e["operation"]) == ("kubectl-run", "Update")
    f = e["fieldsV1"]
    assert f["f:metadata"] == {"f:labels": {".": {}, "f:run": {}}}
    assert f["f:spec"]["f:containers"]['k:{"name":"p"}'] == {
        ".": {},
        "f:image": {},
        "f:name": {},
        "f:resources": {},
    }
    assert "f:status" not in f  # reset by the main resource's strategy
    # an object nobody tracks stays untracked on update (skipNonAppliedManager)
    untracked = dict(new, metadata={"name": "p", "uid": "u"})
    after = apply.track_update(pod, untracked, dict(untracked, spec={}), "kubectl-edit", T1)
    assert "managedFields" not in after["metadata"]
    # and a client sending managedFields: [] resets them
    reset = copy.deepcopy(created)
    reset["metadata"]["managedFields"] = []
    assert "managedFields" not in apply.track_update(pod, created, reset, "x", T1)["metadata"]


def test_status_subresource_update_owns_status_only() -> None:
    pod = res("", "Pod")
    old = apply.track_update(
        pod,
        None,
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}},
        "c",
        T0,
    )
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Running", "podIP": "10.244.0.5"}
    out = apply.track_update(pod, old, new, "kubelet", T1, subresource="status")
    e = next(m for m in out["metadata"]["managedFields"] if m["manager"] == "kubelet")
    assert e["subresource"] == "status"
    assert e["fieldsV1"] == {"f:status": {"f:phase": {}, "f:podIP": {}}}
    assert e["time"] == T1
    # the same write again takes nothing: the entry and its time stay
    again = apply.track_update(pod, out, copy.deepcopy(out), "kubelet", T2, subresource="status")
    assert again["metadata"]["managedFields"] == out["metadata"]["managedFields"]


def test_fieldsv1_round_trip() -> None:
    obj = apply.server_side_apply(DEP, None, config(), "kubectl", force=False, now=T0)
    f = obj["metadata"]["managedFields"][0]["fieldsV1"]
    paths: set[Any] = set()
    apply._decode_fields(f, (), paths)
    assert apply.encode_fields(paths) == f
    assert json.loads(json.dumps(f)) == f
