"""No traceback for any input: random mutations of valid documents either load or raise
ManifestError (never KeyError, TypeError, ...)."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from support.mf_builders import LOC, pod, policy, service, setpath, workload
from test_fastschema import VALUES, paths

from podnet.errors import ManifestError
from podnet.manifests import from_documents

SEEDS = [
    setpath(
        pod(),
        "spec.containers[0]",
        {
            "name": "c",
            "image": "x",
            "env": [{"name": "A", "value": "1"}],
            "ports": [{"containerPort": 80, "name": "http"}],
            "readinessProbe": {"httpGet": {"port": "http", "path": "/"}},
        },
    ),
    setpath(pod(), "spec.containers[0].readinessProbe", {"exec": {"command": ["true"]}}),
    setpath(pod(), "spec.containers[0].readinessProbe", {"tcpSocket": {"port": 80}}),
    service(
        ports=[
            {"port": 80, "targetPort": "http", "name": "a"},
            {"port": 81, "name": "b", "protocol": "UDP"},
        ],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}},
    ),
    policy(
        podSelector={"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]},
        ingress=[
            {
                "from": [
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                    {"podSelector": {"matchLabels": {"a": "b"}}, "namespaceSelector": {}},
                ],
                "ports": [{"port": 1, "endPort": 5}],
            }
        ],
        egress=[{"to": [{"namespaceSelector": {}}]}],
        policyTypes=["Ingress", "Egress"],
    ),
    workload("Deployment", replicas=2),
    workload("StatefulSet", serviceName="h", ordinals={"start": 1}),
    workload("DaemonSet"),
    workload("Job", parallelism=2, completions=3, completionMode="Indexed"),
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"a": "b"}}},
    {"apiVersion": "v1", "kind": "List", "items": [pod()]},
]


def attempt(doc: Any) -> None:
    with contextlib.suppress(ManifestError):
        from_documents([(doc, LOC)])


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(SEEDS), st.data(), VALUES, st.booleans())
def test_mutations_never_traceback(
    seed: dict[str, Any], data: st.DataObject, value: Any, add_key: bool
) -> None:
    doc = copy.deepcopy(seed)
    path = data.draw(st.sampled_from(paths(doc)))
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    if add_key and isinstance(node, dict):
        node[data.draw(st.sampled_from(["bogus", "name", "port", "key", "values"]))] = value
    else:
        node[path[-1]] = value
    attempt(doc)


@given(VALUES)
def test_arbitrary_documents_never_traceback(value: Any) -> None:
    attempt(value)
    attempt({"apiVersion": "v1", "kind": "Pod", "metadata": value})
    attempt({"apiVersion": "v1", "kind": "List", "items": value})
