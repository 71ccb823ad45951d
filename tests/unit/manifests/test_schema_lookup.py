"""``kind`` is looked up in a table of the schema files shipped, never joined into a path
(issue 14, "Input"): hostile kinds mean "no schema", not a traceback or a read elsewhere."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from support.mf_builders import load, pod

from podnet.manifests import schema

HOSTILE = [
    "x" * 300,  # ENAMETOOLONG when joined into a path
    "../../../../../../../../etc/passwd",
    "../v1.37.0-local-strict/pod",
    ".",  # with "-v1.json": no file; alone a directory name
    "nul\x00byte",
    "a/b",
]


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("api", ["v1", "apps/v1", "../..", "x" * 300])
def test_hostile_kind_has_no_schema(kind: str, api: str) -> None:
    assert not schema.has_schema(kind, api)
    assert schema.schema_errors({"kind": kind, "apiVersion": api}) == []


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_kind_is_skipped_with_a_warning(kind: str) -> None:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "a"}}
    m = load(pod(), doc)
    assert [p.name for p in m.pods] == ["p"]
    assert m.warnings


def test_real_kinds_still_have_schemas() -> None:
    assert schema.has_schema("Pod", "v1")
    assert schema.has_schema("Deployment", "apps/v1")
    assert schema.has_schema("NetworkPolicy", "networking.k8s.io/v1")
    assert not schema.has_schema("Gadget", "v9")


def test_no_file_outside_the_table_is_opened() -> None:
    schema.has_schema("Pod", "v1")  # the table is listed once, before we watch
    opened: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if watching[0] and event == "open":
            opened.append(str(args[0]))

    sys.addaudithook(hook)  # audit hooks cannot be removed: this one goes quiet
    try:
        for kind in HOSTILE:
            schema.has_schema(kind, "v1")
            schema.schema_errors({"kind": kind, "apiVersion": "v1"})
    finally:
        watching[0] = False
    assert opened == []
