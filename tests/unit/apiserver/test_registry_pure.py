"""The registry's pure parts: selectors, defaults, allocators, validation, strategy."""

from __future__ import annotations

import random
from typing import Any

import pytest

from podnet.apiserver import defaults, strategy, validation
from podnet.apiserver.allocators import ServiceAllocators
from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.selectors import parse_labels, selector

Obj = dict[str, Any]


def res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


POD, SVC, DEP = res("Pod"), res("Service"), res("Deployment", "apps")


def pod(name: str = "p", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


# --- label selectors (apimachinery labels.Parse) ---------------------------------------

LABELS = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("missing!=x", True),  # != matches objects without the key
        ("app in (web, db)", True),
        ("app notin (web)", False),
        ("missing notin (a)", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=web,tier=back", False),
        ("app=web, tier in (front)", True),
        ("n>4", True),
        ("n<5", False),
        ("app in (web,)", True),
    ],
)
def test_label_selector_matches(text: str, matches: bool) -> None:
    sel = selector("Pod", True, text, "")
    assert sel.matches({"metadata": {"labels": LABELS}}) is matches


@pytest.mark.parametrize(
    "text", ["app=", "app in web", "app in (a", "=x", "app=web,", "a b", "bad key!=x", "n>x"]
)
def test_label_selector_syntax_errors_are_400(text: str) -> None:
    if text == "app=":  # an empty value is valid: app="" (not present or empty)
        assert parse_labels(text)[0].values == ("",)
        return
    with pytest.raises(ApiError) as e:
        selector("Pod", True, text, "")
    assert e.value.code == 400 and e.value.reason == "BadRequest"


# --- field selectors --------------------------------------------------------------------


def test_pod_field_selectors() -> None:
    obj = pod(nodeName="node-1")
    obj["status"] = {"phase": "Running", "podIP": "10.244.0.5"}
    for text, want in [
        ("spec.nodeName=node-1", True),
        ("spec.nodeName!=node-1", False),
        ("spec.nodeName==node-2", False),
        ("status.phase=Running,metadata.name=p", True),
        ("metadata.namespace=default", True),
        ("status.podIP=10.244.0.5", True),
        ("spec.restartPolicy=Always", False),  # not defaulted in this raw object
    ]:
        assert selector("Pod", True, "", text).matches(obj) is want, text
    unbound = pod()
    assert selector("Pod", True, "", "spec.nodeName=").matches(unbound)


def test_event_and_other_field_selectors() -> None:
    ev = {
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"},
        "reason": "Started",
        "type": "Normal",
        "source": {"component": "kubelet"},
    }
    sel = selector(
        "Event", True, "", "involvedObject.kind=Pod,involvedObject.name=p,source=kubelet"
    )
    assert sel.matches(ev)
    assert not selector("Event", True, "", "type=Warning").matches(ev)
    node = {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}
    assert selector("Node", False, "", "spec.unschedulable=true").matches(node)
    secret = {"metadata": {"name": "s"}, "type": "Opaque"}
    assert selector("Secret", True, "", "type=Opaque").matches(secret)
    ns = {"metadata": {"name": "x"}, "status": {"phase": "Terminating"}}
    assert selector("Namespace", False, "", "status.phase=Terminating").matches(ns)


def test_unsupported_field_label_is_400() -> None:
    with pytest.raises(ApiError) as e:
        selector("Pod", True, "", "spec.hostname=x")
    assert (e.value.code, e.value.message) == (400, "field label not supported: spec.hostname")
    with pytest.raises(ApiError):
        selector("Node", False, "", "metadata.namespace=x")  # cluster-scoped: name only
    with pytest.raises(ApiError):
        selector("Pod", True, "", "nonsense")


def test_field_selector_escapes() -> None:
    obj = {"metadata": {"name": "a,b=c"}}
    assert selector("ConfigMap", True, "", r"metadata.name=a\,b\=c").matches(obj)


# --- defaults ---------------------------------------------------------------------------


def test_pod_defaults_as_upstream() -> None:
    obj = pod()
    obj["spec"]["containers"].append(
        {"name": "d", "image": "reg:5000/x:1.2", "ports": [{"containerPort": 80}]}
    )
    defaults.apply_defaults("Pod", obj)
    spec = obj["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {} and spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["priority"] == 0
    assert [(t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]] == [
        ("node.kubernetes.io/not-ready", 300),
        ("node.kubernetes.io/unreachable", 300),
    ]
    c0, c1 = spec["containers"]
    assert c0["imagePullPolicy"] == "Always"  # no tag
    assert c1["imagePullPolicy"] == "IfNotPresent"  # a registry port is not a tag
    assert c0["terminationMessagePath"] == "/dev/termination-log"
    assert c0["terminationMessagePolicy"] == "File" and c0["resources"] == {}
    assert c1["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert defaults.image_pull_policy("nginx:latest") == "Always"
    assert defaults.image_pull_policy("nginx@sha256:abc") == "IfNotPresent"


def test_given_values_are_kept() -> None:
    obj = pod(
        restartPolicy="Never",
        tolerations=[
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 5,
            }
        ],
    )
    defaults.apply_defaults("Pod", obj)
    assert obj["spec"]["restartPolicy"] == "Never"
    tol = obj["spec"]["tolerations"]
    assert len(tol) == 2 and tol[0]["tolerationSeconds"] == 5


def test_service_deployment_job_policy_namespace_defaults() -> None:
    svc: Obj = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    defaults.apply_defaults("Service", svc)
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["sessionAffinity"] == "None"
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert svc["spec"]["ipFamilies"] == ["IPv4"] and svc["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert svc["spec"]["internalTrafficPolicy"] == "Cluster"

    dep: Obj = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    defaults.apply_defaults("Deployment", dep)
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["revisionHistoryLimit"] == 10
    assert dep["spec"]["progressDeadlineSeconds"] == 600
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    tspec = dep["spec"]["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and "tolerations" not in tspec  # admission: pods only

    job: Obj = {"spec": {"template": {"spec": {"containers": []}}}}
    defaults.apply_defaults("Job", job)
    assert {
        k: job["spec"][k]
        for k in ("parallelism", "completions", "backoffLimit", "completionMode", "suspend")
    } == {
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
    }

    np: Obj = {"spec": {"egress": [{"ports": [{"port": 53}]}]}}
    defaults.apply_defaults("NetworkPolicy", np)
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"

    ns: Obj = {"metadata": {"name": "prod", "labels": {"kubernetes.io/metadata.name": "x"}}}
    defaults.apply_defaults("Namespace", ns)
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "prod"
    assert ns["status"] == {"phase": "Active"}

    rc: Obj = {"metadata": {}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}
    defaults.apply_defaults("ReplicationController", rc)
    assert rc["spec"]["selector"] == {"a": "b"} and rc["metadata"]["labels"] == {"a": "b"}


# --- allocators -------------------------------------------------------------------------


def svc(name: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], **spec}}


def test_cluster_ip_random_free_requested_and_errors() -> None:
    allocs = ServiceAllocators(random.Random(1))
    a = svc("a")
    allocs.allocate(a)
    ip = a["spec"]["clusterIP"]
    assert ip.startswith("10.") and a["spec"]["clusterIPs"] == [ip]
    b = svc("b", clusterIP="10.96.0.5")
    allocs.allocate(b)
    assert b["spec"]["clusterIPs"] == ["10.96.0.5"]
    with pytest.raises(ApiError) as e:
        allocs.allocate(svc("c", clusterIP="10.96.0.5"))
    assert e.value.code == 422
    assert e.value.message == (
        'Service "c" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.5"]: '
        "failed to allocate IP 10.96.0.5: provided IP is already allocated"
    )
    with pytest.raises(ApiError) as e:
        allocs.allocate(svc("d", clusterIP="192.168.0.1"))
    assert "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12" in (
        e.value.message
    )
    headless = svc("h", clusterIP="None")
    allocs.allocate(headless)
    assert headless["spec"]["clusterIPs"] == ["None"]
    allocs.release(b)
    allocs.allocate(svc("c", clusterIP="10.96.0.5"))  # free again


def test_dynamic_ips_avoid_the_static_band() -> None:
    allocs = ServiceAllocators(random.Random(7))
    for i in range(200):
        s = svc(f"s{i}")
        allocs.allocate(s)
        assert not s["spec"]["clusterIP"].startswith("10.96.0.")


def test_node_ports() -> None:
    allocs = ServiceAllocators(random.Random(2))
    a = svc("a", type="NodePort")
    allocs.allocate(a)
    port = a["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    with pytest.raises(ApiError) as e:
        allocs.allocate(
            {
                "metadata": {"name": "b"},
                "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": port}]},
            }
        )
    assert (
        f"spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated"
        in e.value.message
    )
    with pytest.raises(ApiError) as e:
        allocs.allocate(
            {
                "metadata": {"name": "b"},
                "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": 80}]},
            }
        )
    assert "The range of valid ports is 30000-32767" in e.value.message
    # the failed Services left nothing allocated: their IPs are free again
    assert allocs.ips.used() == 1


def test_rebuild_from_stored_services() -> None:
    stored = [svc("a", clusterIP="10.96.0.7", type="NodePort")]
    stored[0]["spec"]["ports"][0]["nodePort"] = 30007
    allocs = ServiceAllocators()
    allocs.rebuild(stored)
    with pytest.raises(ApiError):
        allocs.allocate(svc("b", clusterIP="10.96.0.7"))
    with pytest.raises(ApiError):
        allocs.allocate(
            {
                "metadata": {"name": "c"},
                "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": 30007}]},
            }
        )


def test_update_keeps_ip_and_changes_node_ports() -> None:
    allocs = ServiceAllocators(random.Random(3))
    old = svc("a", type="NodePort")
    allocs.allocate(old)
    new: Obj = {"metadata": {"name": "a"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    allocs.allocate(new, old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    port = old["spec"]["ports"][0]["nodePort"]
    again = {
        "metadata": {"name": "x"},
        "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": port}]},
    }
    allocs.allocate(again)  # released by the type change


# --- validation -------------------------------------------------------------------------


def test_validation_maps_manifest_errors_to_causes() -> None:
    bad = pod()
    del bad["spec"]["containers"][0]["image"]
    with pytest.raises(ApiError) as e:
        validation.validate(POD, bad)
    assert e.value.code == 422 and e.value.reason == "Invalid"
    assert e.value.details is not None
    assert e.value.details["causes"][0]["reason"] == "FieldValueRequired"
    assert e.value.details["causes"][0]["field"] == "spec.containers[0].image"
    assert e.value.message.startswith(
        'Pod "p" is invalid: spec.containers[0].image: Required value'
    )


def test_validation_of_unmodelled_kinds_uses_metadata_and_schema() -> None:
    cm = res("ConfigMap")
    validation.validate(
        cm,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}, "data": {"a": "1"}},
    )
    with pytest.raises(ApiError) as e:
        validation.validate(
            cm, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
        )
    assert e.value.details is not None and e.value.details["causes"][0]["field"] == "metadata.name"
    with pytest.raises(ApiError):
        validation.validate(
            cm,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}},
        )


def test_unknown_fields_follow_field_validation() -> None:
    obj = pod()
    obj["spec"]["containerz"] = []
    with pytest.raises(ApiError) as e:
        validation.prune_unknown(dict(obj, spec=dict(obj["spec"])), "Strict")
    assert e.value.code == 400 and 'unknown field "spec.containerz"' in e.value.message
    warnings = validation.prune_unknown(obj, "Warn")
    assert warnings == ['unknown field "spec.containerz"'] and "containerz" not in obj["spec"]


def test_immutable_fields_on_update() -> None:
    old = pod(nodeName="n1")
    changed_image = pod(nodeName="n1")
    changed_image["spec"]["containers"][0]["image"] = "nginx:2"
    assert validation.update_causes(POD, old, changed_image) == []
    moved = pod(nodeName="n2")
    assert validation.update_causes(POD, old, moved)[0][0] == "FieldValueForbidden"
    s_old, s_new = svc("s", clusterIP="10.96.0.5"), svc("s", clusterIP="10.96.0.6")
    assert validation.update_causes(SVC, s_old, s_new)[0][2].endswith("field is immutable")
    d_old = {"spec": {"selector": {"matchLabels": {"a": "b"}}}}
    d_new = {"spec": {"selector": {"matchLabels": {"a": "c"}}}}
    assert validation.update_causes(DEP, d_old, d_new)[0][1] == "spec.selector"


# --- strategy ---------------------------------------------------------------------------


def test_generation_bumps_on_spec_only() -> None:
    old: Obj = {
        "metadata": {"name": "d", "generation": 3, "uid": "u"},
        "spec": {"replicas": 1},
        "status": {"replicas": 1},
    }
    new: Obj = {
        "metadata": {"name": "d", "labels": {"x": "y"}},
        "spec": {"replicas": 1},
        "status": {"replicas": 9},
    }
    out = strategy.prepare_for_update(DEP, old, new, None)
    assert out["metadata"]["generation"] == 3 and out["status"] == {"replicas": 1}
    assert out["metadata"]["uid"] == "u"
    new["spec"]["replicas"] = 2
    assert strategy.prepare_for_update(DEP, old, new, None)["metadata"]["generation"] == 4
    status = strategy.prepare_for_update(DEP, old, new, "status")
    assert status["spec"] == {"replicas": 1} and status["status"] == {"replicas": 9}
    assert "labels" not in status["metadata"]  # ResetObjectMetaForStatus


def test_scale_round_trip() -> None:
    rs = res("ReplicaSet", "apps")
    obj: Obj = {
        "metadata": {"name": "r", "namespace": "default", "resourceVersion": "5", "generation": 1},
        "spec": {
            "replicas": 2,
            "selector": {
                "matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]}],
            },
        },
        "status": {"replicas": 2},
    }
    scale = strategy.to_scale(rs, obj)
    assert scale["status"] == {"replicas": 2, "selector": "a=1,b=2,c in (x,y)"}
    scale["spec"]["replicas"] = 5
    out = strategy.from_scale(rs, obj, scale)
    assert out["spec"]["replicas"] == 5 and out["metadata"]["generation"] == 2
    with pytest.raises(ApiError):
        strategy.to_scale(POD, obj)


def test_graceful_period_for_pods() -> None:
    unbound = pod()
    assert strategy.graceful_period(POD, unbound, None) == 0
    bound = pod(nodeName="n", terminationGracePeriodSeconds=30)
    assert strategy.graceful_period(POD, bound, None) == 30
    assert strategy.graceful_period(POD, bound, 5) == 5
    assert strategy.graceful_period(POD, bound, -3) == 1
    bound["status"] = {"phase": "Succeeded"}
    assert strategy.graceful_period(POD, bound, None) == 0
    assert strategy.graceful_period(SVC, svc("s"), 30) == 0


def test_deletion_finalizers() -> None:
    assert strategy.deletion_finalizers(DEP, ["x"], None) == ["x"]
    assert strategy.deletion_finalizers(DEP, [], "Orphan") == ["orphan"]
    assert strategy.deletion_finalizers(DEP, ["orphan"], "Foreground") == ["foregroundDeletion"]
    assert strategy.deletion_finalizers(res("Job", "batch"), [], None) == ["orphan"]
    with pytest.raises(ApiError):
        strategy.deletion_finalizers(DEP, [], "Sometimes")


def test_qos_class() -> None:
    assert strategy.qos_class({"containers": [{}]}) == "BestEffort"
    g = {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    assert strategy.qos_class({"containers": [g]}) == "Guaranteed"
    assert (
        strategy.qos_class({"containers": [{"resources": {"requests": {"cpu": "1"}}}]})
        == "Burstable"
    )


def test_update_without_node_port_keeps_the_stored_one() -> None:
    allocs = ServiceAllocators(random.Random(4))
    old = svc("a", type="NodePort")
    allocs.allocate(old)
    port = old["spec"]["ports"][0]["nodePort"]
    new: Obj = {"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    allocs.allocate(new, old)
    assert new["spec"]["ports"][0]["nodePort"] == port
    with pytest.raises(ApiError):  # still held
        allocs.allocate(
            {
                "metadata": {"name": "b"},
                "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": port}]},
            }
        )


def test_pod_tolerations_may_only_be_added() -> None:
    old = pod()
    added = pod(tolerations=[{"key": "k", "operator": "Exists"}])
    assert validation.update_causes(POD, old, added) == []
    assert validation.update_causes(POD, added, old)[0][1] == "spec.tolerations"
