"""A recorded Kubernetes API for the podnet.kube tests: a plain-HTTP server on loopback
answering each GET from a table of (path, query) -> (status, JSON fixture), and
remembering the requests (path, query, headers) it saw."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent.parent / "unit" / "kube" / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeApi:
    url: str
    # (path, continue token or None) -> (status, body); None token = any query
    routes: dict[tuple[str, str | None], tuple[int, Any]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)

    def add(self, path: str, body: Any, status: int = 200, token: str | None = None) -> None:
        self.routes[(path, token)] = (status, body)

    def answer(self, raw: str, headers: dict[str, str]) -> tuple[int, bytes]:
        url = urllib.parse.urlsplit(raw)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.seen.append((url.path, query, headers))
        route = self.routes.get((url.path, query.get("continue"))) or self.routes.get(
            (url.path, None)
        )
        if route is None:
            return 404, json.dumps(fixture("notfound-policy-group.json")).encode()
        status, body = route
        return status, json.dumps(body).encode()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's name
            headers = {**dict(self.headers.items()), "x-peer": str(self.client_address)}
            status, body = fake.answer(self.path, headers)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def k3s(api: FakeApi) -> None:
    """The recorded k3s cluster (10.42/16 pods, 10.43/16 services, dual-stack), pods in
    two pages, no cluster policy CRDs."""
    api.add("/api/v1/namespaces", fixture("namespaces.json"))
    page1 = fixture("pods-page1.json")
    api.add("/api/v1/pods", page1)
    api.add("/api/v1/pods", fixture("pods-page2.json"), token=page1["metadata"]["continue"])
    api.add("/api/v1/services", fixture("services.json"))
    api.add("/apis/discovery.k8s.io/v1/endpointslices", fixture("endpointslices.json"))
    api.add("/apis/networking.k8s.io/v1/networkpolicies", fixture("networkpolicies.json"))
    api.add("/api/v1/nodes", fixture("nodes.json"))
