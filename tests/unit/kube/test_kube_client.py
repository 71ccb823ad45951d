"""The client over recorded API answers: paging, errors (403 with the permission,
unreachable, timeout, 410 Gone), bearer tokens and exec plugins."""

from __future__ import annotations

import json
import socket
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
from support.recorded_api import FakeApi, fixture

from podnet.kube.client import Client
from podnet.kube.config import ExecConfig, KubeConfig
from podnet.kube.errors import Forbidden, NotFound, Unauthorized, Unreachable
from podnet.kube.read import PODS


def _cfg(url: str, **kw: object) -> KubeConfig:
    return KubeConfig(server=url, context="k3s", **kw)  # type: ignore[arg-type]


def test_list_follows_continue_and_types_the_items(api: FakeApi) -> None:
    page1 = fixture("pods-page1.json")
    api.add("/api/v1/pods", page1)
    api.add("/api/v1/pods", fixture("pods-page2.json"), token=page1["metadata"]["continue"])
    with Client(_cfg(api.url, token="abc"), page=2) as client:
        items = client.list(PODS)
    assert len(items) == 7
    assert {(i["kind"], i["apiVersion"]) for i in items} == {("Pod", "v1")}
    assert [q for _, q, _ in api.seen] == [
        {"limit": "2"},
        {"limit": "2", "continue": page1["metadata"]["continue"]},
    ]
    assert all(h["Authorization"] == "Bearer abc" for _, _, h in api.seen)
    assert len({h["x-peer"] for _, _, h in api.seen}) == 1  # one kept-alive connection


def test_an_expired_continue_token_restarts_with_one_full_list(api: FakeApi) -> None:
    page1, full = fixture("pods-page1.json"), fixture("pods-page2.json")
    gone = json.dumps(fixture("expired-continue.json")).encode()
    queries: list[dict[str, str]] = []

    def answer(raw: str, headers: dict[str, str]) -> tuple[int, bytes]:
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(raw).query))
        queries.append(q)
        if "continue" in q:
            return 410, gone
        return 200, json.dumps(page1 if "limit" in q else full).encode()

    api.answer = answer  # type: ignore[method-assign]
    with Client(_cfg(api.url)) as client:
        items = client.list(PODS)
    token = page1["metadata"]["continue"]
    assert queries == [{"limit": "500"}, {"limit": "500", "continue": token}, {}]
    assert [i["metadata"]["name"] for i in items] == [
        i["metadata"]["name"] for i in full["items"]
    ]  # page 1 is dropped: the full list replaces it


def test_403_names_the_permission_and_the_namespace(api: FakeApi) -> None:
    api.add("/api/v1/namespaces/shop/pods", fixture("forbidden-pods.json"), status=403)
    with Client(_cfg(api.url)) as client, pytest.raises(Forbidden) as e:
        client.list(PODS, "shop")
    assert (e.value.verb, e.value.resource, e.value.namespace) == ("list", "pods", "shop")
    assert str(e.value).startswith("cannot list pods in namespace shop: needs get/list on pods")
    assert "system:serviceaccount:ci:reader" in str(e.value)


def test_404_and_401_are_their_own_errors(api: FakeApi) -> None:
    api.add("/api/v1/nodes", {"kind": "Status", "code": 401, "message": "Unauthorized"}, 401)
    with Client(_cfg(api.url)) as client:
        with pytest.raises(NotFound):
            client.get_json("/apis/policy.networking.k8s.io")
        with pytest.raises(Unauthorized, match="context k3s"):
            client.get_json("/api/v1/nodes")


def test_a_closed_port_is_unreachable_naming_the_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with Client(_cfg(f"https://127.0.0.1:{port}")) as client, pytest.raises(Unreachable) as e:
            client.list(PODS)
    assert f"cannot reach the Kubernetes API at https://127.0.0.1:{port} (context k3s)" in str(
        e.value
    )
    assert "connection refused" in str(e.value)


def test_a_silent_server_times_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]  # accepts (backlog), never answers
        client = Client(_cfg(f"http://127.0.0.1:{port}"), timeout=0.3)
        with client, pytest.raises(Unreachable, match=r"no answer within 0\.3 s"):
            client.list(PODS)


PLUGIN = """\
import json, os, sys
count = sys.argv[1]
n = int(open(count).read()) + 1 if os.path.exists(count) else 1
open(count, "w").write(str(n))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": os.environ["TOKEN_PREFIX"] + str(n)}}))
"""


def test_exec_plugin_token_is_sent_and_a_401_runs_it_again(api: FakeApi, tmp_path: Path) -> None:
    script, count = tmp_path / "plugin.py", tmp_path / "count"
    script.write_text(PLUGIN)
    api.add("/api/v1/nodes", fixture("nodes.json"))
    exec_cfg = ExecConfig(
        api_version="client.authentication.k8s.io/v1",
        command=sys.executable,
        args=(str(script), str(count)),
        env=(("TOKEN_PREFIX", "tok-"),),
    )
    with Client(_cfg(api.url, exec=exec_cfg)) as client:
        client.get_json("/api/v1/nodes")
        client.get_json("/api/v1/nodes")  # cached: no expiry given
        assert count.read_text() == "1"
        api.add("/api/v1/nodes", {"kind": "Status", "code": 401}, 401)
        done = threading.Event()

        def fixed_after_first(raw: str, headers: dict[str, str]) -> tuple[int, bytes]:
            ok = headers.get("Authorization") == "Bearer tok-2"
            done.set()
            return (200, b"{}") if ok else (401, b'{"message": "expired"}')

        api.answer = fixed_after_first  # type: ignore[method-assign]
        assert client.get_json("/api/v1/nodes") == {}
    assert done.is_set() and count.read_text() == "2"
    assert [h["Authorization"] for _, _, h in api.seen] == ["Bearer tok-1", "Bearer tok-1"]
