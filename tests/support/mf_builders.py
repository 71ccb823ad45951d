"""Builders for manifest dicts used across the manifests tests."""

from __future__ import annotations

import copy
from typing import Any

from podnet.errors import Location, ManifestError
from podnet.manifests import from_documents
from podnet.model.objects import Manifests

LOC = Location("test.yaml", 1)


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    base["spec"].update(spec)
    return base


def service(name: str = "s", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    base["spec"].update(spec)
    return base


def policy(name: str = "np", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {"podSelector": {}},
    }
    base["spec"].update(spec)
    return base


def workload(kind: str, name: str = "w", **spec: Any) -> dict[str, Any]:
    api = "batch/v1" if kind == "Job" else "apps/v1"
    restart = {"restartPolicy": "Never"} if kind == "Job" else {}
    base: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}], **restart},
            }
        },
    }
    if kind != "Job":
        base["spec"]["selector"] = {"matchLabels": {"app": name}}
    base["spec"].update(spec)
    return base


def load(*docs: dict[str, Any]) -> Manifests:
    return from_documents([(copy.deepcopy(d), LOC) for d in docs])


def error_of(*docs: dict[str, Any]) -> ManifestError:
    try:
        load(*docs)
    except ManifestError as e:
        return e
    raise AssertionError("expected a ManifestError")


def setpath(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set ``a.b[0].c`` in a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    parts = path.replace("[", ".[").split(".")
    for i, part in enumerate(parts):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        last = i == len(parts) - 1
        if last:
            node[key] = value
        else:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]
    return doc
