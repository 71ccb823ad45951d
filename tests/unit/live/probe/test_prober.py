"""The prober on loopback: TCP, UDP (a reply is needed), refusals, silence, SCTP, input."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from podnet.live.probe import prober
from podnet.live.probe.prober import ALLOWED, DENIED, UNSUPPORTED, Batch, Target, probe_all


@pytest.fixture
def servers() -> Iterator[dict[str, int]]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    stop = threading.Event()

    def answer() -> None:
        echo.settimeout(0.05)
        while not stop.is_set():
            try:
                _, addr = echo.recvfrom(100)
            except TimeoutError:
                continue
            echo.sendto(b"host", addr)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    yield {
        "tcp": tcp.getsockname()[1],
        "udp": echo.getsockname()[1],
        "silent": silent.getsockname()[1],
        "closed": closed.getsockname()[1],
    }
    stop.set()
    t.join()
    for s in (tcp, echo, silent, closed):
        s.close()


def test_results_per_protocol_in_one_timeout(servers: dict[str, int]) -> None:
    targets = [
        Target("127.0.0.1", servers["tcp"], "TCP"),
        Target("127.0.0.1", servers["closed"], "TCP"),
        Target("127.0.0.1", servers["udp"], "UDP"),
        Target("127.0.0.1", servers["silent"], "UDP"),  # no reply: a failure
        Target("127.0.0.1", servers["closed"], "UDP"),  # ICMP port unreachable
        Target("127.0.0.1", 80, "ICMP"),
    ]
    t0 = time.monotonic()
    got = probe_all(targets, timeout=0.3)
    assert time.monotonic() - t0 < 1.0  # all in parallel: about one timeout
    assert [r for r, _ in got] == [ALLOWED, DENIED, ALLOWED, DENIED, DENIED, UNSUPPORTED]
    assert got[1][1] == "econnrefused" and got[3][1] == "timeout"


def test_sctp_is_unsupported_without_kernel_support() -> None:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close()
    except OSError:
        ((result, _),) = probe_all([Target("127.0.0.1", 9, "SCTP")], 0.2)
        assert result == UNSUPPORTED
    else:
        pytest.skip("this kernel has SCTP")


def test_targets_added_later_get_their_own_deadline(servers: dict[str, int]) -> None:
    batch = Batch(timeout=0.3)
    first = batch.add(Target("127.0.0.1", servers["silent"], "UDP"))
    batch.step(0.2)
    second = batch.add(Target("127.0.0.1", servers["silent"], "UDP"))
    batch.step(0.15)  # the first is past its deadline, the second is not
    assert batch.results()[first] == (DENIED, "timeout") and batch.busy
    batch.wait()
    assert batch.results()[second] == (DENIED, "timeout") and not batch.busy
    batch.close()


def test_main_reads_json_and_prints_json(
    servers: dict[str, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = [{"ip": "127.0.0.1", "port": servers["tcp"], "protocol": "tcp"}]
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(targets)))
    assert prober.main(["--timeout", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"result": ALLOWED, "detail": "connected"}]
    monkeypatch.setattr("sys.stdin", io.StringIO('{"not": "a list"}'))
    assert prober.main([]) == 2
