"""The compiled schema check agrees with jsonschema (the reference) on every input.

Soundness is what matters (a "valid" from the fast path must be jsonschema's "valid"),
but the compiler implements the keywords exactly, so we check full agreement: on the
check tables and on random mutations of valid documents.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.mf_builders import pod, policy, service, workload
from test_checks import BAD, GOOD

from podnet.manifests.fastschema import Compiler, Unsupported
from podnet.manifests.schema import _definitions, _fast, _schema, _validator

KINDS = [
    ("Pod", "v1"),
    ("Service", "v1"),
    ("Namespace", "v1"),
    ("NetworkPolicy", "networking.k8s.io/v1"),
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
]


def agree(doc: dict[str, Any]) -> None:
    kind, api = str(doc.get("kind")), str(doc.get("apiVersion"))
    fast, slow = _fast(kind, api), _validator(kind, api)
    if fast is None or slow is None:
        return
    assert fast(doc) == (not list(slow.iter_errors(doc))), doc


@pytest.mark.parametrize(("kind", "api"), KINDS)
def test_every_modelled_kind_compiles(kind: str, api: str) -> None:
    assert _fast(kind, api) is not None


@pytest.mark.parametrize("doc", [d for _, d, _ in BAD] + [d for _, d in GOOD])
def test_agrees_on_tables(doc: dict[str, Any]) -> None:
    agree(doc)


def test_unknown_keyword_refused() -> None:
    with pytest.raises(Unsupported):
        Compiler(_definitions()["$defs"]).compile({"pattern": "x"})


def test_relative_ref_outside_defs_refused() -> None:
    with pytest.raises(Unsupported):
        Compiler(_definitions()["$defs"]).compile({"$ref": "#/$defs/x"})


def test_kind_schema_loaded() -> None:
    assert _schema("Pod", "v1") is not None and _schema("Gadget", "v9") is None


SEEDS = [
    pod(),
    service(ports=[{"port": 80, "targetPort": "http", "name": "a"}]),
    policy(ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 1}]}]),
    workload("Deployment", replicas=2),
    workload("Job"),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70000),
    st.floats(-1, 3),
    st.sampled_from(["", "x", "TCP", "80", "None"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2),
        st.dictionaries(st.sampled_from(["a", "name", "port"]), inner, max_size=2),
    ),
    max_leaves=4,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SEEDS), st.data(), VALUES, st.booleans())
def test_agrees_on_mutations(
    seed: dict[str, Any], data: st.DataObject, value: Any, add_key: bool
) -> None:
    doc = copy.deepcopy(seed)
    candidates = [p for p in paths(doc) if p[0] not in ("apiVersion", "kind")]
    path = data.draw(st.sampled_from(candidates))
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    if add_key and isinstance(node, dict):
        node[data.draw(st.sampled_from(["bogus", "name", "port", "protocol"]))] = value
    else:
        node[path[-1]] = value
    agree(doc)
