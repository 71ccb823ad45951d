"""The API server over HTTPS on 127.0.0.1: authentication, Status errors, the verbs,
negotiation and watches, with a real ServerThread over a Registry(MemoryStore())."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver import auth, certs, resources
from podnet.apiserver.certs import ServerTLS
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.changelog import QueueWatch
from podnet.apiserver.store.memory import MemoryStore

JSON = {"Content-Type": "application/json"}
NAMESPACES = resources.RESOURCES[0]
assert NAMESPACES.plural == "namespaces"


class RecordingStore(MemoryStore):
    """A MemoryStore that keeps every watch it hands out, so a test can see it closed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watches: list[QueueWatch] = []

    def watch(self, prefix: str, since_rv: int) -> QueueWatch:
        w = super().watch(prefix, since_rv)
        self.watches.append(w)
        return w


@dataclass
class Api:
    port: int
    tls: ServerTLS
    token: str
    store: RecordingStore
    server: ServerThread

    def conn(self, *, cert: bool = True, timeout: float = 10.0) -> http.client.HTTPSConnection:
        ctx = (
            self.tls.client_context()
            if cert
            else ssl.create_default_context(cafile=str(self.tls.ca_cert))
        )
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=timeout)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        cert: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = self.conn(cert=cert)
        try:
            data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
            hdrs = dict(JSON if data is not None else {}) | (headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        code, _, raw = self.call(method, path, body, **kw)
        return code, json.loads(raw)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    tls = certs.ensure(tmp_path / "data")
    token = auth.ensure_token(tmp_path / "data")
    store = RecordingStore(max_events=3)
    registry = Registry(store)
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
    port = server.start()
    try:
        yield Api(port, tls, token, store, server)
    finally:
        server.stop()
        store.close()


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _status(code: int, reason: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
    }


def _subset(small: dict[str, Any], big: dict[str, Any]) -> bool:
    return all(big.get(k) == v for k, v in small.items())


# --- authentication --------------------------------------------------------------------


def test_anonymous_requests_get_401_except_health_and_version(api: Api) -> None:
    code, body = api.json("GET", "/api/v1/namespaces", cert=False)
    assert code == 401 and _subset(_status(401, "Unauthorized"), body)
    code, body = api.json("GET", "/api", cert=False)
    assert code == 401
    for path in ("/livez", "/readyz", "/healthz", "/livez/ping"):
        code, _, raw = api.call("GET", path, cert=False)
        assert (code, raw) == (200, b"ok"), path
    code, version = api.json("GET", "/version", cert=False)
    assert code == 200 and version["gitVersion"] == "v1.37.0+podnet"
    code, _, raw = api.call("GET", "/readyz?verbose", cert=False)
    assert raw.decode().splitlines()[-1] == "readyz check passed"
    assert "[+]ping ok" in raw.decode()


def test_the_bearer_token_or_the_client_certificate_lets_in(api: Api) -> None:
    bearer = {"Authorization": f"Bearer {api.token}"}
    assert api.call("GET", "/api/v1/namespaces", headers=bearer, cert=False)[0] == 200
    assert api.call("GET", "/api/v1/namespaces")[0] == 200
    wrong = {"Authorization": "Bearer " + "0" * 64}
    assert api.call("GET", "/api/v1/namespaces", headers=wrong, cert=False)[0] == 401


def test_a_certificate_from_another_ca_is_refused(api: Api, tmp_path: Path) -> None:
    other = certs.ensure(tmp_path / "other")
    ctx = ssl.create_default_context(cafile=str(api.tls.ca_cert))
    ctx.load_cert_chain(other.admin_cert, other.admin_key)
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx, timeout=5)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            conn.request("GET", "/api/v1/namespaces")
            conn.getresponse().read()
    finally:
        conn.close()


def test_tls_offers_http11_only(api: Api) -> None:
    ctx = api.tls.client_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", api.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


# --- Status errors ---------------------------------------------------------------------


def test_error_statuses(api: Api) -> None:
    code, body = api.json("GET", "/nonsense")
    assert code == 404 and _subset(_status(404, "NotFound"), body)
    code, body = api.json("GET", "/api/v1/namespaces/default/widgets")
    assert code == 404 and body["message"] == "the server could not find the requested resource"
    code, body = api.json("GET", "/api/v1/namespaces/default/configmaps/missing")
    assert code == 404 and body["message"] == 'configmaps "missing" not found'
    code, body = api.json("DELETE", "/api/v1/namespaces")
    assert code == 405 and body["reason"] == "MethodNotAllowed"
    code, _, raw = api.call(
        "GET", "/api/v1/namespaces", headers={"Accept": "application/vnd.kubernetes.protobuf"}
    )
    assert code == 406 and json.loads(raw)["reason"] == "NotAcceptable"
    code, _, raw = api.call(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        b"<cm/>",
        headers={"Content-Type": "application/xml"},
    )
    body = json.loads(raw)
    assert code == 415 and body["reason"] == "UnsupportedMediaType"
    protobuf = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    code, _, raw = api.call("POST", "/api/v1/namespaces/default/configmaps", b"{}", protobuf)
    assert code == 400 and "protobuf" in json.loads(raw)["message"]
    code, body = api.json("POST", "/api/v1/namespaces/default/configmaps", b"{not json")
    assert code == 400 and body["reason"] == "BadRequest"


def test_a_bug_is_a_500_status_without_a_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.server.server is not None
    registry = api.server.server.registry

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(registry, "get", broken)
    for _ in range(2):
        code, body = api.json("GET", "/api/v1/namespaces/default")
        assert code == 500 and body["reason"] == "InternalError"
        assert "Traceback" not in body["message"]
    assert capsys.readouterr().err.count("Traceback") == 1  # logged once


# --- the verbs -------------------------------------------------------------------------


def test_create_get_list_update_patch_delete(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    code, created = api.json("POST", base, _cm("a", k="1"))
    assert code == 201 and created["metadata"]["resourceVersion"]
    code, body = api.json("POST", base, _cm("a", k="1"))
    assert code == 409 and body["reason"] == "AlreadyExists"
    code, got = api.json("GET", f"{base}/a")
    assert code == 200 and got == created
    code, listed = api.json("GET", base)
    assert code == 200 and (listed["kind"], listed["apiVersion"]) == ("ConfigMapList", "v1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    assert listed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    changed = got | {"data": {"k": "2"}}
    code, updated = api.json("PUT", f"{base}/a", changed)
    assert code == 200 and updated["data"] == {"k": "2"}
    code, body = api.json("PUT", f"{base}/a", changed)  # the old resourceVersion
    assert code == 409 and body["reason"] == "Conflict"
    code, body = api.json("PUT", f"{base}/b", changed)
    assert code == 400 and "does not match the name on the URL" in body["message"]

    merge = {"Content-Type": "application/merge-patch+json"}
    code, _, raw = api.call("PATCH", f"{base}/a", b'{"data":{"m":"3"}}', headers=merge)
    assert code == 200 and json.loads(raw)["data"] == {"k": "2", "m": "3"}
    jp = {"Content-Type": "application/json-patch+json"}
    ops = b'[{"op":"remove","path":"/data/k"}]'
    code, _, raw = api.call("PATCH", f"{base}/a", ops, headers=jp)
    assert code == 200 and json.loads(raw)["data"] == {"m": "3"}

    code, body = api.json("DELETE", f"{base}/a")
    assert code == 200 and _subset({"kind": "Status", "status": "Success"}, body)
    assert body["details"]["name"] == "a" and body["details"]["kind"] == "configmaps"
    assert api.json("GET", f"{base}/a")[0] == 404


def test_yaml_bodies_and_answers(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: b\n"
    code, hdrs, raw = api.call(
        "POST",
        base,
        doc,
        headers={"Content-Type": "application/yaml", "Accept": "application/yaml"},
    )
    assert code == 201 and hdrs["content-type"].startswith("application/yaml")
    assert b"name: y" in raw


def test_dry_run_changes_nothing_and_other_values_are_refused(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    code, body = api.json("POST", f"{base}?dryRun=All", _cm("d"))
    assert code == 201 and body["metadata"]["name"] == "d"
    assert api.json("GET", f"{base}/d")[0] == 404
    code, body = api.json("POST", f"{base}?dryRun=Some", _cm("d"))
    assert code == 422 and body["reason"] == "Invalid"
    assert api.json("GET", f"{base}/d")[0] == 404


def test_field_validation(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    bad = _cm("f", a="b") | {"spec": {"foo": 1}}
    code, body = api.json("POST", f"{base}?fieldValidation=Strict", bad)
    assert code == 400 and body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: unknown field "spec"'
    )
    code, hdrs, raw = api.call("POST", f"{base}?fieldValidation=Warn", bad)
    assert code == 201 and hdrs["warning"] == '299 - "unknown field \\"spec\\""'
    assert "spec" not in json.loads(raw)  # dropped, as decoding into the type drops it
    code, _, raw = api.call("POST", base, _cm("g") | {"bogus": True})
    assert code == 201 and "bogus" not in json.loads(raw)
    code, body = api.json("POST", f"{base}?fieldValidation=Loud", _cm("h"))
    assert code == 400


def test_cluster_scoped_and_all_namespaces(api: Api) -> None:
    for ns in ("a", "b"):
        assert api.json("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})[0] == 201
        path = f"/api/v1/namespaces/{ns}/configmaps"
        assert api.json("POST", path, _cm("c"))[0] == 201
    code, listed = api.json("GET", "/api/v1/configmaps")
    assert code == 200
    assert [i["metadata"]["namespace"] for i in listed["items"]] == ["a", "b"]
    code, listed = api.json("GET", "/api/v1/namespaces/a/configmaps?labelSelector=x%3Dy")
    assert code == 200 and listed["items"] == []
    code, ns = api.json("GET", "/api/v1/namespaces/a")
    assert code == 200 and ns["kind"] == "Namespace"


def test_discovery_and_openapi_are_served(api: Api) -> None:
    code, body = api.json("GET", "/api")
    assert code == 200 and body["kind"] == "APIVersions"
    code, body = api.json("GET", "/apis/apps")
    assert code == 200 and body["kind"] == "APIGroup" and body["name"] == "apps"
    code, body = api.json("GET", "/apis/apps/v1")
    assert code == 200 and body["groupVersion"] == "apps/v1"
    assert api.json("GET", "/apis/nope/v1")[0] == 404
    code, hdrs, _ = api.call("GET", "/openapi/v2")
    assert code == 200 and hdrs["content-type"] == "application/json"
    code, body = api.json("GET", "/openapi/v3")
    assert code == 200 and "api/v1" in body["paths"]


# --- watches ---------------------------------------------------------------------------


def _watch(api: Api, path: str, accept: str = "") -> tuple[http.client.HTTPSConnection, Any]:
    conn = api.conn(timeout=10)
    conn.request("GET", path, headers={"Accept": accept} if accept else {})
    resp = conn.getresponse()
    return conn, resp


def _event(resp: Any) -> dict[str, Any]:
    line = resp.readline()
    assert line, "the stream ended"
    event: dict[str, Any] = json.loads(line)
    return event


def test_watch_streams_changes_and_ends_at_timeout(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    api.json("POST", base, _cm("before"))
    rv = api.json("GET", base)[1]["metadata"]["resourceVersion"]
    conn, resp = _watch(api, f"{base}?watch=1&resourceVersion={rv}&timeoutSeconds=2")
    try:
        assert resp.status == 200
        api.json("POST", base, _cm("w1"))
        api.json("DELETE", f"{base}/before")
        first, second = _event(resp), _event(resp)
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "w1")
        assert (second["type"], second["object"]["metadata"]["name"]) == ("DELETED", "before")
        t0 = time.monotonic()
        assert resp.readline() == b""  # timeoutSeconds ends the stream
        assert time.monotonic() - t0 < 5
    finally:
        conn.close()
    assert all(w.closed for w in api.store.watches)


def test_watch_without_resource_version_starts_with_the_current_objects(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    api.json("POST", base, _cm("x"))
    conn, resp = _watch(api, f"{base}?watch=true&timeoutSeconds=1")
    try:
        ev = _event(resp)
        assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "x")
    finally:
        conn.close()


def test_a_too_old_resource_version_is_200_then_an_expired_error_event(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    for i in range(6):  # the store keeps 3 events
        api.json("POST", base, _cm(f"c{i}"))
    conn, resp = _watch(api, f"{base}?watch=1&resourceVersion=1")
    try:
        assert resp.status == 200
        ev = _event(resp)
        assert ev["type"] == "ERROR"
        assert _subset(_status(410, "Expired"), ev["object"])
        assert ev["object"]["message"].startswith("too old resource version: 1 (")
        assert resp.readline() == b""
    finally:
        conn.close()


def test_bookmarks_when_asked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from podnet.apiserver.http import watch

    monkeypatch.setattr(watch, "BOOKMARK_EVERY", 0.2)
    base = "/api/v1/namespaces/default/configmaps"
    rv = api.json("GET", base)[1]["metadata"]["resourceVersion"]
    conn, resp = _watch(
        api, f"{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"
    )
    try:
        ev = _event(resp)
        assert ev["type"] == "BOOKMARK"
        assert ev["object"]["kind"] == "ConfigMap"
        assert ev["object"]["metadata"]["resourceVersion"] == rv
    finally:
        conn.close()


def test_a_client_going_away_closes_the_store_watch(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    conn, resp = _watch(api, f"{base}?watch=1&resourceVersion=0")
    assert resp.status == 200
    deadline = time.monotonic() + 5
    while not api.store.watches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [w.closed for w in api.store.watches] == [False]
    conn.close()
    resp.close()
    deadline = time.monotonic() + 5
    while not api.store.watches[0].closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.store.watches[0].closed


def test_stop_ends_open_watches_at_once(tmp_path: Path) -> None:
    tls = certs.ensure(tmp_path)
    token = auth.ensure_token(tmp_path)
    store = MemoryStore()
    server = ServerThread(Registry(store), tls=tls, authenticator=auth.Authenticator(token))
    port = server.start()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls.client_context(), timeout=10)
    try:
        conn.request("GET", "/api/v1/configmaps?watch=1")
        resp = conn.getresponse()
        assert resp.status == 200
        t0 = time.monotonic()
        server.stop()
        assert time.monotonic() - t0 < 5
        assert resp.read() == b""
    finally:
        conn.close()
        store.close()


def test_eviction_deletes_the_pod(api: Api) -> None:
    base = "/api/v1/namespaces/default/pods"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
    }
    assert api.json("POST", base, pod)[0] == 201
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "p", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0},
    }
    code, body = api.json("POST", f"{base}/p/eviction", eviction)
    assert code == 201 and body["status"] == "Success"
    assert api.json("GET", f"{base}/p")[0] == 404
    code, body = api.json("POST", f"{base}/q/eviction", eviction)
    assert code == 400


def test_tables_for_lists_gets_and_watches(api: Api) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    api.json("POST", base, _cm("t", a="1", b="2"))
    for version in ("v1", "v1beta1"):
        accept = f"application/json;as=Table;v={version};g=meta.k8s.io,application/json"
        code, hdrs, raw = api.call(
            "GET", f"{base}?includeObject=Object", headers={"Accept": accept}
        )
        table = json.loads(raw)
        assert code == 200 and hdrs["content-type"].startswith("application/json;as=Table")
        assert (table["kind"], table["apiVersion"]) == ("Table", f"meta.k8s.io/{version}")
        assert [c["name"] for c in table["columnDefinitions"]][:2] == ["Name", "Data"]
        assert table["rows"][0]["cells"][:2] == ["t", 2]
        assert table["rows"][0]["object"]["metadata"]["name"] == "t"
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    code, _, raw = api.call("GET", f"{base}/t", headers={"Accept": accept})
    assert code == 200 and json.loads(raw)["rows"][0]["cells"][0] == "t"
    conn, resp = _watch(api, f"{base}?watch=1&timeoutSeconds=1", accept)
    try:
        ev = _event(resp)
        assert ev["type"] == "ADDED" and ev["object"]["kind"] == "Table"
        assert [r["cells"][0] for r in ev["object"]["rows"]] == ["t"]
    finally:
        conn.close()
