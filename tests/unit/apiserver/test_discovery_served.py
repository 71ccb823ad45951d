"""Discovery announces what is served, and only that: every subresource a resource list
names answers each of its verbs over a real in-process API server (an unknown object's
404 names the object; an unserved path's 404 has no details, and a wrong verb is 405),
and ``serviceaccounts/token`` is listed as kube-apiserver lists it."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver import auth, certs, discovery, resources
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore

METHODS = {"get": "GET", "create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE"}
UNSERVED = "the server could not find the requested resource"


class Api:
    def __init__(self, port: int, tls: certs.ServerTLS) -> None:
        self.port, self.tls = port, tls

    def call(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        ctx = self.tls.client_context()
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        try:
            headers = {"Content-Type": "application/merge-patch+json"}
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            if method in ("POST", "PUT"):
                headers = {"Content-Type": "application/json"}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, {}
        finally:
            conn.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data: Path = tmp_path_factory.mktemp("data")
    tls = certs.ensure(data)
    store = MemoryStore()
    registry = Registry(store)
    registry.create(resources.RESOURCES[0], None, {"metadata": {"name": "default"}})
    server = ServerThread(
        registry, tls=tls, authenticator=auth.Authenticator(auth.ensure_token(data))
    )
    port = server.start()
    try:
        yield Api(port, tls)
    finally:
        server.stop()
        store.close()


def _listed() -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    """(group, version, resource/sub, namespaced, verbs) of every listed subresource."""
    out = []
    for group, version in resources.group_versions():
        lst = discovery.resource_list(group, version)
        assert lst is not None
        for e in lst["resources"]:
            if "/" in e["name"]:
                out.append((group, version, e["name"], e["namespaced"], tuple(e["verbs"])))
    return out


@pytest.mark.parametrize("entry", _listed(), ids=lambda e: f"{e[0] or 'core'}/{e[2]}")
def test_every_listed_subresource_is_served(
    api: Api, entry: tuple[str, str, str, bool, tuple[str, ...]]
) -> None:
    group, version, name, namespaced, verbs = entry
    plural, sub = name.split("/")
    root = f"/apis/{group}/{version}" if group else f"/api/{version}"
    scope = "/namespaces/default" if namespaced else ""
    path = f"{root}{scope}/{plural}/nope/{sub}"
    for verb in verbs:
        code, status = api.call(METHODS[verb], path)
        assert code != 405, (verb, path, status)
        # the object is missing: a 404 that names it, never the unknown-path one
        assert status.get("message") != UNSERVED, (verb, path, status)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/pods/nope/binding",
        "/api/v1/namespaces/default/services/nope/proxy",
    ],
)
def test_unserved_subresources_are_not_listed(api: Api, path: str) -> None:
    code, status = api.call("POST", path)
    assert (code, status.get("message")) == (404, UNSERVED)
    names = [e[2] for e in _listed()]
    assert path.split("/")[5] + "/" + path.split("/")[-1] not in names


def test_serviceaccounts_token_as_kube_apiserver_lists_it() -> None:
    # /api/v1 of a v1.3x kube-apiserver (registry/core/serviceaccount/storage/token.go)
    lst = discovery.resource_list("", "v1")
    assert lst is not None
    token = next(e for e in lst["resources"] if e["name"] == "serviceaccounts/token")
    assert token == {
        "name": "serviceaccounts/token",
        "singularName": "",
        "namespaced": True,
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
        "verbs": ["create"],
    }
    core = discovery.aggregated("v2", legacy=True)["items"][0]["versions"][0]["resources"]
    sa = next(r for r in core if r["resource"] == "serviceaccounts")
    assert sa["subresources"] == [
        {
            "subresource": "token",
            "responseKind": {
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
            },
            "verbs": ["create"],
        }
    ]


def test_custom_resource_subresources_are_listed_and_served(api: Api) -> None:
    """A CRD version's ``status`` and ``scale`` (scale as autoscaling/v1 Scale), each
    verb answered; none listed when the CRD has none."""
    info = resources.CustomInfo(
        "things.example.com",
        "thing",
        {"type": "object"},
        scale={"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
        storage=True,
    )
    things = resources.Resource(
        "example.com", "v1", "Thing", "things", True, subresources=("scale", "status"), custom=info
    )
    bare = resources.Resource(
        "example.com",
        "v1",
        "Bare",
        "bares",
        False,
        custom=resources.CustomInfo("bares.example.com", "bare", {}),
    )
    resources.set_custom([things, bare])
    try:
        lst = discovery.resource_list("example.com", "v1")
        assert lst is not None
        subs = {e["name"]: e for e in lst["resources"] if "/" in e["name"]}
        assert subs == {
            "things/scale": {
                "name": "things/scale",
                "singularName": "",
                "namespaced": True,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            },
            "things/status": {
                "name": "things/status",
                "singularName": "",
                "namespaced": True,
                "kind": "Thing",
                "verbs": ["get", "patch", "update"],
            },
        }
        for name, e in subs.items():
            test_every_listed_subresource_is_served(
                api, ("example.com", "v1", name, True, tuple(e["verbs"]))
            )
        code, status = api.call("GET", "/apis/example.com/v1/bares/nope/status")
        assert (code, status.get("message")) == (404, UNSERVED)
    finally:
        resources.set_custom([])
