"""A JSON patch's nulls are dropped as a request body's are (the patched object is
decoded into its typed form upstream): kubectl 1.20's ``rollout undo`` replaces the
template with one carrying ``creationTimestamp: null``, and a template kept with it
never matched its ReplicaSet's again (the deployment controller counted collisions)."""

from __future__ import annotations

import json
import random
from typing import Any

from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store.memory import MemoryStore


def _res(kind: str, group: str = "") -> Resource:
    r = by_kind(group, kind)
    assert r is not None
    return r


NS, DEP = _res("Namespace"), _res("Deployment", "apps")


def test_json_patch_nulls_are_not_stored() -> None:
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    template = {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    reg.create(
        DEP,
        "default",
        {
            "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": template},
        },
    )
    undo = {**template, "metadata": {"creationTimestamp": None, "labels": {"a": "b"}}}
    ops = [{"op": "replace", "path": "/spec/template", "value": undo}]
    out = reg.patch(DEP, "default", "d", "application/json-patch+json", json.dumps(ops))
    assert out["spec"]["template"]["metadata"] == {"labels": {"a": "b"}}
    assert out["metadata"]["generation"] == 1  # nothing changed


def test_replace_without_defaults_bumps_no_generation() -> None:
    """Upstream compares decoded (defaulted) objects in PrepareForUpdate: a PUT of the
    manifest as written (``kubectl replace -f``) is no spec change."""
    reg = Registry(MemoryStore(), clock=lambda: 1_700_000_000.0, rng=random.Random(0))
    reg.create(NS, None, {"metadata": {"name": "default"}})
    body: dict[str, Any] = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    made = reg.create(DEP, "default", json.loads(json.dumps(body)))
    same = reg.update(DEP, "default", "d", json.loads(json.dumps(body)))
    assert same["metadata"]["generation"] == made["metadata"]["generation"] == 1
    body["spec"]["replicas"] = 3
    assert reg.update(DEP, "default", "d", body)["metadata"]["generation"] == 2
