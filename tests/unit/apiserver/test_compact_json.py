"""The API's compact JSON (orjson, json.dumps for what orjson refuses): the same
document as ``json.dumps(..., separators=(",", ":"))`` for what the API stores and
sends, and a custom resource's integer beyond 64 bits still written."""

from __future__ import annotations

import json

from podnet.jsonbytes import dumps


def test_a_pod_is_the_compact_json_document() -> None:
    pod = {
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"note": "ünïcode ✓"}},
        "spec": {
            "containers": [{"name": "c", "args": ["a", "b"], "ports": ({"containerPort": 80},)}]
        },
        "status": {"conditions": [{"type": "Ready", "lastProbeTime": None, "ok": True, "n": 1.5}]},
    }
    out = dumps(pod)
    assert isinstance(out, bytes)
    assert json.loads(out) == json.loads(json.dumps(pod))
    assert out == json.dumps(pod, separators=(",", ":"), ensure_ascii=False).encode()


def test_int_keys_are_strings_as_json_writes_them() -> None:
    assert json.loads(dumps({1: "a"})) == {"1": "a"}


def test_an_integer_beyond_64_bits_falls_back_to_json() -> None:
    big = {"spec": {"value": 2**70}}
    assert json.loads(dumps(big)) == big
