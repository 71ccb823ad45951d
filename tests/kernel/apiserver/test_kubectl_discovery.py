"""Real kubectl 1.20 and 1.37 against podnet's discovery and OpenAPI documents.

A small aiohttp server on 127.0.0.1 serves only the discovery endpoints, the OpenAPI
documents and one Pod (``default/web``, with a last-applied annotation so that ``apply``
computes a strategic-merge patch from the schema); every other path is a 404 Status.
kubectl 1.20 reads legacy discovery and the v2 protobuf; kubectl 1.37 reads aggregated
discovery and the v3 documents. The requests each run made are recorded, so a test can
tell which document kubectl really used.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from support.paths import REPO

from podnet.apiserver import discovery, openapi, resources

pytestmark = pytest.mark.kernel

TOOLS = REPO / ".tools" / "bin"
KUBECTLS = {v: TOOLS / f"kubectl-{v}" for v in ("1.20", "1.37")}

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]
    },
}


def _stored_pod() -> dict[str, object]:
    applied = json.dumps(POD, separators=(",", ":"))
    meta = POD["metadata"] | {
        "uid": "6c1f1c3e-0000-4000-8000-000000000001",
        "resourceVersion": "7",
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied},
    }
    return POD | {"metadata": meta, "status": {"phase": "Running"}}


@dataclass
class Server:
    url: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path_qs, accept


def _json(body: object, content_type: str = "application/json") -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), content_type=None, headers={"Content-Type": content_type}
    )


def _not_found(path: str) -> web.Response:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"the server could not find the requested resource ({path})",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    return web.Response(
        status=404, body=json.dumps(status).encode(), headers={"Content-Type": "application/json"}
    )


def _app(server: Server) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        server.requests.append((request.method, request.path_qs, accept))
        path = request.path.rstrip("/")
        if request.method != "GET":
            return _not_found(path)
        if path in ("/api", "/apis"):
            chosen = discovery.negotiate(accept)
            if chosen is not None:
                return _json(discovery.aggregated(chosen[0], path == "/api"), chosen[1])
            return _json(
                discovery.api_versions(request.host)
                if path == "/api"
                else discovery.api_group_list()
            )
        parts = path.split("/")
        if path == "/api/v1" or (len(parts) == 4 and parts[1] == "apis"):
            lst = discovery.resource_list(*(("", "v1") if path == "/api/v1" else parts[2:4]))
            return _json(lst) if lst is not None else _not_found(path)
        if path == "/openapi/v2":
            if any(t in accept for t in openapi.V2_PROTOBUF_ACCEPTED):
                body, ctype = openapi.v2_protobuf(), openapi.V2_PROTOBUF
            else:
                body, ctype = openapi.v2_json(), "application/json"
            return web.Response(
                body=body, headers={"Content-Type": ctype, "ETag": f'"{openapi.v2_etag()}"'}
            )
        if path == "/openapi/v3":
            return _json(openapi.v3_index())
        if path.startswith("/openapi/v3/"):
            doc = openapi.v3_document(path.removeprefix("/openapi/v3/"))
            if doc is None:
                return _not_found(path)
            return web.Response(body=doc, headers={"Content-Type": "application/json"})
        if path == "/api/v1/namespaces/default/pods/web":
            return _json(_stored_pod())
        return _not_found(path)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.fixture
def server() -> Iterator[Server]:
    """The server on its own event loop in a thread, stopped and closed after the test."""
    loop = asyncio.new_event_loop()
    box: list[Server] = []
    started = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        srv = Server("")
        runner = web.AppRunner(_app(srv), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        srv.url = f"http://127.0.0.1:{port}"
        box.append(srv)
        started.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    try:
        assert started.wait(10), "test server did not start"
        yield box[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def kubectl(
    version: str, server: Server, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    binary = KUBECTLS[version]
    if not binary.is_file():
        pytest.skip(f"{binary} missing: run ./dev.sh (install_clients)")
    config = home / "config"
    config.write_text("apiVersion: v1\nkind: Config\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KUBECONFIG": str(config)}
    argv = [str(binary), "--server", server.url, "--cache-dir", str(home / "cache"), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


VERSIONS = ("1.20", "1.37")


@pytest.mark.parametrize("version", VERSIONS)
def test_api_versions(version: str, server: Server, tmp_path: Path) -> None:
    out = _ok(kubectl(version, server, tmp_path, "api-versions")).split()
    assert out == sorted(f"{g}/{v}" if g else v for g, v in resources.group_versions())


@pytest.mark.parametrize("version", VERSIONS)
def test_api_resources(version: str, server: Server, tmp_path: Path) -> None:
    out = _ok(kubectl(version, server, tmp_path, "api-resources", "--no-headers", "-o", "wide"))
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():  # the first of a name: pods before metrics.k8s.io's pods
        rows.setdefault(line.split()[0], line.split())
    assert rows["pods"][1:5] == ["po", "v1", "true", "Pod"]
    assert rows["deployments"][1:5] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["adminnetworkpolicies"][1:5] == [
        "anp",
        "policy.networking.k8s.io/v1alpha1",
        "false",
        "AdminNetworkPolicy",
    ]
    # 1.20 prints verbs as "[create delete ...]", 1.37 as "create,delete,...".
    verbs = re.search(r"\[?(create\W.*watch)\]?", " ".join(rows["pods"]))
    assert verbs is not None
    assert re.split(r"[ ,]", verbs.group(1)) == sorted(resources.VERBS)
    aggregated = any(
        r[1].startswith("/apis?") and "apidiscovery.k8s.io" in r[2] for r in server.requests
    )
    assert aggregated == (version == "1.37")


def test_apply_1_20_validates_with_v2_protobuf(server: Server, tmp_path: Path) -> None:
    """kubectl 1.20 ``apply --dry-run=client``: client-side validation and the
    strategic-merge patch of the existing Pod, both from the v2 protobuf."""
    changed = json.loads(json.dumps(POD))
    changed["spec"]["containers"][0]["image"] = "nginx:1.27"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(json.dumps(changed))
    out = _ok(kubectl("1.20", server, tmp_path, "apply", "--dry-run=client", "-f", str(manifest)))
    assert out.strip() == "pod/web configured (dry run)"
    assert any(p.startswith("/openapi/v2?") and "protobuf" in a for _, p, a in server.requests)
    # A field the schema does not know is refused before anything is sent.
    changed["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    manifest.write_text(json.dumps(changed))
    bad = kubectl("1.20", server, tmp_path, "apply", "--dry-run=client", "-f", str(manifest))
    assert bad.returncode != 0
    assert 'unknown field "imagePullPolcy"' in bad.stderr


def test_apply_1_20_creates_an_anp(server: Server, tmp_path: Path) -> None:
    """A kind the table serves from podnet's own schema is validated too."""
    anp: dict[str, Any] = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "deny-all"},
        "spec": {
            "priority": 10,
            "subject": {"namespaces": {}},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}],
        },
    }
    manifest = tmp_path / "anp.yaml"
    manifest.write_text(json.dumps(anp))
    out = _ok(kubectl("1.20", server, tmp_path, "apply", "--dry-run=client", "-f", str(manifest)))
    assert out.strip() == "adminnetworkpolicy.policy.networking.k8s.io/deny-all created (dry run)"
    anp["spec"]["priority"] = "high"
    manifest.write_text(json.dumps(anp))
    bad = kubectl("1.20", server, tmp_path, "apply", "--dry-run=client", "-f", str(manifest))
    assert bad.returncode != 0 and "spec.priority" in bad.stderr


def test_apply_1_37_patches_with_v3(server: Server, tmp_path: Path) -> None:
    changed = json.loads(json.dumps(POD))
    changed["spec"]["containers"][0]["image"] = "nginx:1.27"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(json.dumps(changed))
    out = _ok(kubectl("1.37", server, tmp_path, "apply", "--dry-run=client", "-f", str(manifest)))
    assert out.strip() == "pod/web configured (dry run)"
    assert any(p.startswith("/openapi/v3/api/v1?hash=") for _, p, _ in server.requests)


def test_explain_1_37_uses_v3(server: Server, tmp_path: Path) -> None:
    out = _ok(kubectl("1.37", server, tmp_path, "explain", "pods.spec.containers"))
    assert "KIND:       Pod" in out
    assert "FIELD: containers <[]Container>" in out
    assert "imagePullPolicy\t<string>" in out
    assert any(p.startswith("/openapi/v3/api/v1") for _, p, _ in server.requests)


def test_explain_1_20_uses_v2(server: Server, tmp_path: Path) -> None:
    out = _ok(kubectl("1.20", server, tmp_path, "explain", "deployments.spec.strategy"))
    assert "KIND:     Deployment" in out
    assert "rollingUpdate\t<Object>" in out


def test_apply_1_37_leaves_validation_to_the_server(server: Server, tmp_path: Path) -> None:
    """kubectl 1.37 finds ``fieldValidation`` on the v3 PATCH operation, so it does not
    validate client-side: a manifest with an unknown field is sent as a PATCH with
    ``fieldValidation=Strict`` for the server to refuse (were the parameter missing,
    kubectl would refuse the field itself and send nothing). The test server answers the
    PATCH with 404, so the command fails after sending it."""
    changed = json.loads(json.dumps(POD))
    changed["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(json.dumps(changed))
    done = kubectl("1.37", server, tmp_path, "apply", "--dry-run=server", "-f", str(manifest))
    assert 'unknown field "' not in done.stderr
    patches = [p for m, p, _ in server.requests if m == "PATCH"]
    assert patches and "fieldValidation=Strict" in patches[0], done.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_policy_kind(version: str, server: Server, tmp_path: Path) -> None:
    """AdminNetworkPolicy's schema (from podnet's own checker) explained as a CRD's."""
    out = _ok(kubectl(version, server, tmp_path, "explain", "anp.spec"))
    assert "AdminNetworkPolicy" in out
    priority = next(line for line in out.splitlines() if line.strip().startswith("priority"))
    assert priority.split() == ["priority", "<integer>", "-required-"]
