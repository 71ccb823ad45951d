"""``fieldValidation`` for custom resources, over a real in-process API server: unknown
fields are found by the CRD version's structural schema (and ObjectMeta's for
``metadata``): Strict refuses a create or update with kube-apiserver's message, Warn
(the default) answers with the warning header and drops them, Ignore drops them
silently; ``x-kubernetes-preserve-unknown-fields`` keeps what it covers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver import auth, certs, resources
from podnet.apiserver.http import fields
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import CustomInfo, Resource
from podnet.apiserver.store.memory import MemoryStore

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"n": {"type": "string"}}},
                },
            },
        }
    },
}
THINGS = Resource(
    "example.com",
    "v1",
    "Thing",
    "things",
    True,
    custom=CustomInfo("things.example.com", "thing", SCHEMA, storage=True),
)
PATH = "/apis/example.com/v1/namespaces/default/things"


def thing(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": name},
        "spec": {"size": 1, **spec},
    }


class Api:
    def __init__(self, port: int, tls: certs.ServerTLS) -> None:
        self.port, self.tls = port, tls

    def call(
        self, method: str, path: str, body: Any, ctype: str = "application/json"
    ) -> tuple[int, list[str], dict[str, Any]]:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.tls.client_context(), timeout=10
        )
        try:
            conn.request(method, path, body=json.dumps(body), headers={"Content-Type": ctype})
            resp = conn.getresponse()
            warnings = [v for k, v in resp.getheaders() if k.lower() == "warning"]
            return resp.status, warnings, json.loads(resp.read())
        finally:
            conn.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    tls = certs.ensure(tmp_path / "data")
    store = MemoryStore()
    registry = Registry(store)
    registry.create(resources.RESOURCES[0], None, {"metadata": {"name": "default"}})
    resources.set_custom([THINGS])
    server = ServerThread(
        registry, tls=tls, authenticator=auth.Authenticator(auth.ensure_token(tmp_path / "data"))
    )
    port = server.start()
    try:
        yield Api(port, tls)
    finally:
        server.stop()
        store.close()
        resources.set_custom([])


def test_unknown_fields_by_the_crd_schema_pure() -> None:
    resources.set_custom([THINGS])
    try:
        obj = thing("a", foo=1, free={"any": 1}, items=[{"n": "x", "m": 2}])
        obj["metadata"]["bogus"] = True
        obj["top"] = 1
        # the pruned paths sorted, then metadata's (customresource_handler.go)
        assert fields.unknown_fields(obj) == [
            "spec.foo",
            "spec.items[0].m",
            "top",
            "metadata.bogus",
        ]
        assert "top" in obj  # found, not dropped
        fields.unknown_fields(obj, drop=True)
        assert obj == thing("a", free={"any": 1}, items=[{"n": "x"}])
    finally:
        resources.set_custom([])


def test_strict_refuses_create_and_update(api: Api) -> None:
    code, _, status = api.call("POST", PATH + "?fieldValidation=Strict", thing("a", foo=1))
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'Thing in version "v1" cannot be handled as a Thing: strict decoding error: '
        'unknown field "spec.foo"'
    )
    code, _, _ = api.call("POST", PATH + "?fieldValidation=Strict", thing("a", free={"x": 1}))
    assert code == 201  # preserved by x-kubernetes-preserve-unknown-fields
    code, _, status = api.call("PUT", PATH + "/a?fieldValidation=Strict", thing("a", bar=2))
    assert code == 400 and status["message"].endswith('unknown field "spec.bar"')
    # a patch's strict error carries no kind prefix (patch.go): the registry's
    code, _, status = api.call(
        "PATCH",
        PATH + "/a?fieldValidation=Strict",
        {"spec": {"baz": 3}},
        "application/merge-patch+json",
    )
    assert code == 400 and status["message"] == 'strict decoding error: unknown field "spec.baz"'
    code, _, status = api.call(
        "PATCH",
        PATH + "/a?fieldValidation=Strict",
        {"metadata": {"bogus": 1}},
        "application/merge-patch+json",
    )
    assert code == 400
    assert status["message"] == 'strict decoding error: unknown field "metadata.bogus"'
    code, warnings, patched = api.call(
        "PATCH",
        PATH + "/a",
        {"metadata": {"bogus": 1, "labels": {"a": "b"}}},
        "application/merge-patch+json",
    )
    assert (code, warnings) == (200, ['299 - "unknown field \\"metadata.bogus\\""'])
    assert "bogus" not in patched["metadata"] and patched["metadata"]["labels"] == {"a": "b"}


def test_warn_is_the_default_and_ignore_is_silent(api: Api) -> None:
    body = thing("w", foo=1)
    body["metadata"]["bogus"] = "x"
    code, warnings, created = api.call("POST", PATH, body)
    assert code == 201
    # one Warning header, the values comma-joined (as the server writes them)
    assert ", ".join(warnings) == (
        '299 - "unknown field \\"spec.foo\\"", 299 - "unknown field \\"metadata.bogus\\""'
    )
    assert "foo" not in created["spec"] and "bogus" not in created["metadata"]
    code, warnings, created = api.call("POST", PATH + "?fieldValidation=Ignore", thing("i", foo=1))
    assert (code, warnings) == (201, [])
    assert created["spec"] == {"size": 1}
    body = thing("w", qux=1)
    code, warnings, updated = api.call("PUT", PATH + "/w?fieldValidation=Warn", body)
    assert code == 200 and warnings == ['299 - "unknown field \\"spec.qux\\""']
    assert "qux" not in updated["spec"]
