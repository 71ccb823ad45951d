"""The kubelet converts a pod the API server stored without running the manifests
checks again (``kubelet_status.pod_model``): the model is the one the full conversion
gives (``desired.convert``: checks, then ``build._convert``), and a pod those checks
refuse still fails admission with their error."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore
from podnet.errors import PodnetError
from podnet.live import kubelet_status
from podnet.live.desired import convert
from podnet.live.kubelet_status import pod_model

Obj = dict[str, Any]


def _res(kind: str) -> Resource:
    r = by_kind("", kind)
    assert r is not None
    return r


NS, POD = _res("Namespace"), _res("Pod")

PROBE: Obj = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 3}
SPECS: list[Obj] = [
    {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
    {
        "terminationGracePeriodSeconds": 0,
        "restartPolicy": "OnFailure",
        "hostname": "h",
        "subdomain": "sub",
        "nodeSelector": {"disk": "ssd"},
        "shareProcessNamespace": True,
        "securityContext": {"runAsUser": 1000},
        "initContainers": [{"name": "init", "image": "busybox", "args": ["true"]}],
        "containers": [
            {
                "name": "web",
                "image": "nginx",
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "readinessProbe": PROBE,
                "livenessProbe": {"exec": {"command": ["true"]}},
                "startupProbe": {"tcpSocket": {"port": 80}},
                "workingDir": "/tmp",
                "stdin": True,
                "tty": True,
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
            },
            {"name": "side", "image": "busybox", "command": ["sh", "-c", "sleep 1"]},
        ],
    },
    {"hostNetwork": True, "containers": [{"name": "c", "image": "busybox"}]},
]


def _stored(spec: Obj, name: str) -> Obj:
    """``spec`` as the API server stores it (defaults, admission), bound to a node."""
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "ns1"}})
    body = {"metadata": {"name": name, "labels": {"app": "x"}}, "spec": copy.deepcopy(spec)}
    obj = copy.deepcopy(reg.create(POD, "ns1", body))
    obj["spec"]["nodeName"] = "node-1"  # as the binding sets it
    obj["status"] = {"phase": "Pending", "podIP": "10.244.1.5"}
    return obj


@pytest.mark.parametrize("i", range(len(SPECS)))
def test_the_model_is_the_full_conversion(i: int, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = _stored(SPECS[i], f"pod-{i}")
    full = convert(obj)

    def unused(_: Obj) -> Any:
        raise AssertionError("a valid stored pod is not checked again")

    monkeypatch.setattr(kubelet_status, "convert", unused)
    assert pod_model(obj) == full


def test_a_pod_without_a_namespace_is_named_as_the_full_conversion_names_it() -> None:
    obj = _stored(SPECS[0], "p")
    del obj["metadata"]["namespace"]
    assert pod_model(obj) == convert(obj)


def test_a_pod_the_checks_refuse_fails_with_their_error() -> None:
    obj = _stored(SPECS[0], "p")
    obj["spec"]["containers"][0]["args"] = [None]  # the API server lets a null item in
    with pytest.raises(PodnetError) as full:
        convert(obj)
    with pytest.raises(PodnetError) as fast:
        pod_model(obj)
    assert str(fast.value) == str(full.value)
    bad = _stored(SPECS[0], "q")
    bad["spec"]["containers"] = "not a list"  # stored by something that skipped the checks
    with pytest.raises(PodnetError):
        pod_model(bad)
