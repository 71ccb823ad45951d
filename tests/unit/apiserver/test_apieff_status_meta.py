"""What a ``<kind>/status`` write takes from its body's metadata, per kind, as the
in-tree status strategies' PrepareForUpdate and rest.BeforeUpdate leave it:
Deployment keeps its labels (deploymentStatusStrategy), Pod its ownerReferences
(podStatusStrategy), CRD-served kinds all metadata (customresource statusStrategy);
annotations come from the body, generation never does."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.live.kubelet_write import status_body

Obj = dict[str, Any]


def _res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, POD, DEP, RS = (
    _res("Namespace"),
    _res("Pod"),
    _res("Deployment", "apps"),
    _res("ReplicaSet", "apps"),
)
ANP = _res("AdminNetworkPolicy", "policy.networking.k8s.io")


@pytest.fixture
def reg() -> Registry:
    r = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    r.create(NS, None, {"metadata": {"name": "default"}})
    return r


def _template() -> Obj:
    return {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def _deployment(reg: Registry) -> Obj:
    body = {
        "metadata": {"name": "d", "labels": {"app": "d"}},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": _template()},
    }
    return reg.create(DEP, "default", body)


def test_deployment_status_write_takes_annotations_not_labels_nor_generation(
    reg: Registry,
) -> None:
    d = _deployment(reg)
    assert d["metadata"]["generation"] == 1
    body = copy.deepcopy(d)
    body["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    body["metadata"]["labels"] = {"app": "other"}
    body["metadata"]["generation"] = 5
    body["status"] = {"observedGeneration": 1}
    out = reg.update(DEP, "default", "d", body, subresource="status")
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert out["metadata"]["labels"] == {"app": "d"}
    assert out["metadata"]["generation"] == 1
    assert out["status"] == {"observedGeneration": 1}
    # the same annotation through the main resource bumps it (PrepareForUpdate)
    again = copy.deepcopy(out)
    again["metadata"]["annotations"]["x"] = "y"
    assert reg.update(DEP, "default", "d", again)["metadata"]["generation"] == 2


def test_replicaset_status_write_takes_labels(reg: Registry) -> None:
    rs = reg.create(
        RS,
        "default",
        {
            "metadata": {"name": "r"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": _template()},
        },
    )
    body = copy.deepcopy(rs)
    body["metadata"]["labels"] = {"x": "y"}
    body["spec"]["replicas"] = 7
    body["status"] = {"replicas": 0}
    out = reg.update(RS, "default", "r", body, subresource="status")
    assert out["metadata"]["labels"] == {"x": "y"} and out["spec"] == rs["spec"]


def test_status_write_with_an_invalid_label_is_invalid_and_changes_nothing(
    reg: Registry,
) -> None:
    d = _deployment(reg)
    pod = reg.create(
        POD,
        "default",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    )
    body = status_body(pod, {"phase": "Running"})
    body["metadata"] = {**pod["metadata"], "labels": {"bad key!": "v"}}
    with pytest.raises(ApiError) as e:  # ValidateObjectMetaUpdate
        reg.update(POD, "default", "p", body, subresource="status")
    assert e.value.code == 422
    assert "metadata.labels" in str(e.value.details)
    assert reg.get(POD, "default", "p") == pod
    assert reg.get(DEP, "default", "d") == d


def test_crd_kind_status_write_keeps_all_metadata(reg: Registry) -> None:
    anp = reg.create(
        ANP,
        None,
        {
            "apiVersion": "policy.networking.k8s.io/v1alpha1",
            "kind": "AdminNetworkPolicy",
            "metadata": {"name": "a", "labels": {"k": "v"}},
            "spec": {"priority": 1, "subject": {"namespaces": {}}, "ingress": []},
        },
    )
    body = copy.deepcopy(anp)
    body["metadata"]["labels"] = {"k": "changed"}
    body["status"] = {"conditions": []}
    out = reg.update(ANP, None, "a", body, subresource="status")
    assert out["metadata"]["labels"] == {"k": "v"}


def test_kubelet_status_body_keeps_labels_a_user_set(reg: Registry) -> None:
    pod = reg.create(
        POD,
        "default",
        {
            "metadata": {"name": "p", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    )
    labelled = copy.deepcopy(pod)
    labelled["metadata"]["labels"]["tier"] = "front"
    labelled = reg.update(POD, "default", "p", labelled)
    with pytest.raises(ApiError) as e:  # the kubelet's stale view: 409, nothing lost
        reg.update(
            POD, "default", "p", status_body(pod, {"phase": "Running"}), subresource="status"
        )
    assert e.value.code == 409
    out = reg.update(
        POD, "default", "p", status_body(labelled, {"phase": "Running"}), subresource="status"
    )
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert out["status"]["phase"] == "Running"
