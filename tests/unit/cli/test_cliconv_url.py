"""``-f URL``, as kubectl: fetched over HTTP from a local server on 127.0.0.1; the URL
names the input in error messages; failures say "cannot fetch URL" and why."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from support.paths import REPO

from podnet.cli.main import main
from podnet.errors import ManifestError
from podnet.manifests import files
from podnet.manifests.files import load_paths

POD = REPO / "examples/seed/pod-to-service.yaml"
BAD = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers: 7\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []
    fail_first: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.fail_first.get(self.path, 0) > 0:
            self.fail_first[self.path] -= 1
            self._send(503, b"busy")
        elif self.path == "/pod.yaml":
            self._send(200, POD.read_bytes())
        elif self.path == "/bad.yaml":
            self._send(200, BAD)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/pod.yaml")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(files.MAX_FILE_BYTES + 1))
            self.end_headers()
        elif self.path == "/down":
            self._send(500, b"down")
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(files, "URL_RETRY_WAIT", 0.01)
    _Handler.hits = []
    _Handler.fail_first = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_url_loads_like_the_file(server: str) -> None:
    from_url = load_paths([f"{server}/pod.yaml"])
    from_file = load_paths([str(POD)])
    assert [p.name for p in from_url.pods] == [p.name for p in from_file.pods]
    assert from_url.pods


def test_redirect_is_followed(server: str) -> None:
    assert load_paths([f"{server}/moved"]).pods
    assert _Handler.hits == ["/moved", "/pod.yaml"]


def test_the_url_names_the_input_in_errors(server: str) -> None:
    url = f"{server}/bad.yaml"
    with pytest.raises(ManifestError) as e:
        load_paths([url])
    assert str(e.value).startswith(f"{url}:")


def test_404_is_not_retried(server: str) -> None:
    with pytest.raises(ManifestError, match="cannot fetch URL: the server answered 404 Not Found"):
        load_paths([f"{server}/nothing.yaml"])
    assert _Handler.hits == ["/nothing.yaml"]


def test_5xx_is_retried_as_kubectl(server: str) -> None:
    _Handler.fail_first["/pod.yaml"] = 2
    assert load_paths([f"{server}/pod.yaml"]).pods
    assert _Handler.hits == ["/pod.yaml"] * 3
    _Handler.hits.clear()
    with pytest.raises(ManifestError, match="answered 500"):
        load_paths([f"{server}/down"])
    assert len(_Handler.hits) == files.URL_ATTEMPTS


def test_too_large_is_refused_before_reading(server: str) -> None:
    with pytest.raises(ManifestError, match="too large"):
        load_paths([f"{server}/huge"])


def test_offline_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on the port (bound, never listening): refused, each attempt."""
    monkeypatch.setattr(files, "URL_RETRY_WAIT", 0.01)
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/x.yaml"
        rc = main(["lint", "-f", url])
    err = capsys.readouterr().err
    assert rc != 0  # bad input: the exit code is lint's to choose
    assert err == f"error: {url}:1: cannot fetch URL: Connection refused\n"


def test_cli_reads_a_url(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "-f", f"{server}/pod.yaml", "-o", "json"]) == 0
    assert '"pod-a"' in capsys.readouterr().out
