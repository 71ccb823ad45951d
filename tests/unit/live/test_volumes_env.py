"""A container's env from ConfigMaps, Secrets and the downward API, as kubelet's
makeEnvironmentVariables (pkg/kubelet/kubelet_pods.go) makes it, then expanded as the
runtime expands it (third_party/forked/golang/expansion)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from podnet.dataplane.images.image import Image
from podnet.dataplane.runtime.command import container_env
from podnet.live.node.envfrom import ConfigError, needs, pod_fields, references, resolve
from podnet.model.objects import Container

Obj = dict[str, Any]
OBJECTS: dict[tuple[str, str], Obj] = {
    ("ConfigMap", "cm"): {"data": {"greeting": "hi $(X)", "bad key": "v", "k": "1"}},
    ("Secret", "s"): {"data": {"pw": base64.b64encode(b"s3cr3t").decode()}},
}
POD: Obj = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "a"}},
    "spec": {"nodeName": "node-1", "serviceAccountName": "robot"},
}


def lookup(kind: str, name: str) -> Obj | None:
    return OBJECTS.get((kind, name))


def env_of(container: Obj) -> dict[str, str]:
    fields = pod_fields(POD, "10.244.0.7", "192.168.0.1")
    entries = resolve(POD, container, lookup, fields)
    c = Container(name="c", image="busybox", env=entries)
    image = Image(name="busybox", env=(("PATH", "/bin"),))
    return container_env(image, c)


def test_value_from_envfrom_and_expansion() -> None:
    container: Obj = {
        "envFrom": [
            {"prefix": "CM_", "configMapRef": {"name": "cm"}},
            {"secretRef": {"name": "s"}},
        ],
        "env": [
            {"name": "G", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "greeting"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {
                "name": "OPT",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "x", "optional": True}},
            },
            {"name": "URL", "value": "http://$(IP):80/$(CM_k)/$$(IP)/$(UNDEFINED)"},
        ],
    }
    env = env_of(container)
    assert env["CM_greeting"] == "hi $(X)"  # envFrom values are not expanded
    assert "CM_bad key" not in env  # not a valid variable name: skipped
    assert env["pw"] == "s3cr3t" and env["PW"] == "s3cr3t"
    assert env["G"] == "hi $(X)" and env["IP"] == "10.244.0.7" and env["APP"] == "a"
    assert env["SA"] == "robot" and env["HOST"] == "192.168.0.1"
    assert "OPT" not in env
    assert env["URL"] == "http://10.244.0.7:80/1/$(IP)/$(UNDEFINED)"
    assert env["PATH"] == "/bin"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"configMapKeyRef": {"name": "gone", "key": "k"}}, 'configmap "gone" not found'),
        (
            {"configMapKeyRef": {"name": "cm", "key": "zz"}},
            "couldn't find key zz in ConfigMap ns/cm",
        ),
        ({"secretKeyRef": {"name": "s", "key": "zz"}}, "couldn't find key zz in Secret ns/s"),
        ({"secretKeyRef": {"name": "gone", "key": "k"}}, 'secret "gone" not found'),
    ],
)
def test_missing_objects_and_keys_are_config_errors(ref: Obj, message: str) -> None:
    container = {"env": [{"name": "V", "valueFrom": ref}]}
    with pytest.raises(ConfigError) as e:
        resolve(POD, container, lookup, {})
    assert e.value.args[0] == message


def test_envfrom_missing_unless_optional() -> None:
    with pytest.raises(ConfigError, match='configmap "gone" not found'):
        resolve(POD, {"envFrom": [{"configMapRef": {"name": "gone"}}]}, lookup, {})
    optional = {"envFrom": [{"secretRef": {"name": "gone", "optional": True}}]}
    assert resolve(POD, optional, lookup, {}) == ()


def test_needs_and_references() -> None:
    assert not needs({"env": [{"name": "A", "value": "1"}]})
    container = {
        "envFrom": [{"configMapRef": {"name": "a"}}],
        "env": [{"name": "B", "valueFrom": {"secretKeyRef": {"name": "b", "key": "k"}}}],
    }
    assert needs(container)
    assert references(container) == {("ConfigMap", "a"), ("Secret", "b")}
