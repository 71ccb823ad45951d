"""agnhost netexec's HTTP dialer against a loopback server that answers with an error."""

from __future__ import annotations

import gc
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from podnet.dataplane.images.agnhost.netexec import dial_http


class _Teapot(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(418)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def teapot() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Teapot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_http_error_is_raised_and_its_socket_closed(teapot: int) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        dial_http("127.0.0.1", teapot, "/")
    assert e.value.code == 418
    assert e.value.fp is None or e.value.fp.closed
    gc.collect()  # an unclosed socket would warn here (filterwarnings = error)
