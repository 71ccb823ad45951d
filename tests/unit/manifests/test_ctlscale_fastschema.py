"""The compiled schema check's quicker type checks agree with jsonschema.

Type lists of plain types (``["string", "null"]``, the shape of most optional fields)
are one ``isinstance``; a single type has its own check; ``additionalProperties:
false`` is a subset test. Each is checked against jsonschema on values that tell the
types apart (bools are not integers, an integer-valued float is an integer).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from podnet.manifests.fastschema import Compiler
from podnet.manifests.schema import _fast, _validator

VALUES: list[Any] = ["a", "", 0, 1, 1.0, 1.5, True, False, None, [], [1], {}, {"a": 1}]
TYPES: list[Any] = [
    "string",
    "integer",
    "number",
    "boolean",
    "object",
    "array",
    "null",
    ["string", "null"],
    ["object", "null"],
    ["array", "null"],
    ["boolean", "null"],
    ["integer", "null"],
    ["number", "string"],
    ["integer", "string"],
]


@pytest.mark.parametrize("type_", TYPES, ids=str)
def test_type_checks_agree_with_jsonschema(type_: Any) -> None:
    schema = {"type": type_}
    fast = Compiler({}).compile(schema)
    for v in VALUES:
        assert fast(v) == jsonschema.Draft202012Validator(schema).is_valid(v), (type_, v)


def test_properties_required_and_closed_objects_agree_with_jsonschema() -> None:
    schema = {
        "type": ["object", "null"],
        "properties": {"ip": {"type": "string"}, "nodeName": {"type": ["string", "null"]}},
        "required": ["ip"],
        "additionalProperties": False,
    }
    fast = Compiler({}).compile(schema)
    docs: list[Any] = [
        None,
        {"ip": "10.0.0.1"},
        {"ip": "10.0.0.1", "nodeName": None},
        {"ip": "10.0.0.1", "nodeName": "n"},
        {"ip": "10.0.0.1", "nodeName": 3},
        {"ip": "10.0.0.1", "other": "x"},
        {"nodeName": "n"},
        {"ip": 1},
        [],
    ]
    for d in docs:
        assert fast(d) == jsonschema.Draft202012Validator(schema).is_valid(d), d


def test_an_endpoints_of_many_addresses_agrees_with_jsonschema() -> None:
    fast, slow = _fast("Endpoints", "v1"), _validator("Endpoints", "v1")
    assert fast is not None and slow is not None
    addresses = [
        {"ip": f"10.0.0.{i}", "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": f"p{i}"}}
        for i in range(1, 50)
    ]
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": addresses, "ports": [{"port": 80, "protocol": "TCP"}]}],
    }
    assert fast(doc) and not list(slow.iter_errors(doc))
    for bad in ({"ip": 7}, {"ip": "10.0.0.9", "hostname": True}, {"ip": "1.2.3.4", "x": 1}):
        doc["subsets"][0]["addresses"] = [*addresses, bad]
        assert not fast(doc) and list(slow.iter_errors(doc)), bad
