"""Liveness, readiness and startup probes: the pure state machine (kubelet's prober
worker.go / computePodActions), the runner driving it with real processes on this host
(the host spawner), and the http/tcp check helper against loopback servers."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from support.runtime import free_port, host_runtime, pod, wait_until

from podnet.dataplane.runtime import probes
from podnet.dataplane.runtime.probes import LIVENESS, READINESS, STARTUP, initial, step
from podnet.dataplane.runtime.state import FAILED, RUNNING, ContainerStatus
from podnet.model.objects import Container, Probe


def test_initial_results_as_kubelet_workers() -> None:
    assert initial(LIVENESS).ready  # Success until proven otherwise
    assert not initial(READINESS).ready
    assert not initial(STARTUP).ready


def test_liveness_kills_after_failure_threshold_with_events() -> None:
    probe = Probe(exec_command=("false",), failure_threshold=2)
    first = step(LIVENESS, probe, initial(LIVENESS), False, "no file", "app", restart=True)
    assert not first.kill and first.again
    assert first.events == (("Warning", "Unhealthy", "Liveness probe failed: no file"),)
    second = step(LIVENESS, probe, first.state, False, "no file", "app", restart=True)
    assert second.kill and not second.again
    assert second.events[-1] == (
        "Normal",
        "Killing",
        "Container app failed liveness probe, will be restarted",
    )
    never = step(LIVENESS, probe, first.state, False, "", "app", restart=False)
    assert never.events[-1][2] == "Container app failed liveness probe"


def test_liveness_success_resets_the_failure_count() -> None:
    probe = Probe(exec_command=("false",), failure_threshold=2)
    s = step(LIVENESS, probe, initial(LIVENESS), False, "", "c", restart=True).state
    s = step(LIVENESS, probe, s, True, "", "c", restart=True).state
    out = step(LIVENESS, probe, s, False, "", "c", restart=True)
    assert not out.kill and out.state.failures == 1


def test_startup_success_starts_and_stops_probing() -> None:
    probe = Probe(exec_command=("true",), failure_threshold=3)
    out = step(STARTUP, probe, initial(STARTUP), True, "", "c", restart=True)
    assert out.started and not out.again and out.events == ()
    bad = step(STARTUP, probe, initial(STARTUP), False, "x", "c", restart=True)
    assert not bad.started and bad.again and bad.events[0][2] == "Startup probe failed: x"


def test_startup_failures_kill() -> None:
    probe = Probe(exec_command=("false",), failure_threshold=1)
    out = step(STARTUP, probe, initial(STARTUP), False, "", "web", restart=True)
    assert out.kill
    assert out.events[-1][2] == "Container web failed startup probe, will be restarted"


def test_readiness_reports_changes_only() -> None:
    probe = Probe(exec_command=("true",))
    up = step(READINESS, probe, initial(READINESS), True, "", "c", restart=True)
    assert up.ready is True and not up.kill
    again = step(READINESS, probe, up.state, True, "", "c", restart=True)
    assert again.ready is None
    down = step(READINESS, Probe(failure_threshold=1), up.state, False, "", "c", restart=True)
    assert down.ready is False and not down.kill


def _status(rt: object, key: str) -> ContainerStatus:
    st = rt.status(key)  # type: ignore[attr-defined]
    c = st.containers[0]
    assert isinstance(c, ContainerStatus)
    return c


def _reasons(c: ContainerStatus) -> list[str]:
    return [e[2] for e in c.probe_events]


def test_failing_liveness_probe_restarts_the_container(tmp_path: Path) -> None:
    flag = tmp_path / "healthy"
    flag.write_text("")
    probe = Probe(
        exec_command=("cat", str(flag)),
        period_seconds=1,
        failure_threshold=2,
        termination_grace_period_seconds=1,
    )
    c = Container("app", "busybox", command=("sleep", "300"), liveness_probe=probe)
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("live", c))
        wait_until(rt, lambda: _status(rt, "default/live").state == RUNNING)
        rt.run_until(lambda: False, 1.5)  # passing probes: nothing happens
        assert _status(rt, "default/live").restart_count == 0
        assert _status(rt, "default/live").probe_events == ()
        flag.unlink()
        wait_until(rt, lambda: _status(rt, "default/live").restart_count == 1, timeout=15)
        st = _status(rt, "default/live")
        assert _reasons(st).count("Unhealthy") >= 2 and "Killing" in _reasons(st)
        unhealthy = next(e for e in st.probe_events if e[2] == "Unhealthy")
        assert unhealthy[1] == "Warning" and unhealthy[3].startswith("Liveness probe failed: ")
        assert "No such file" in unhealthy[3]  # cat's own words are the output
        killing = next(e for e in st.probe_events if e[2] == "Killing")
        assert killing[1:] == (
            "Normal",
            "Killing",
            "Container app failed liveness probe, will be restarted",
        )
        wait_until(rt, lambda: _status(rt, "default/live").state == RUNNING)


def test_liveness_kill_with_restart_policy_never_fails_the_pod(tmp_path: Path) -> None:
    probe = Probe(exec_command=("false",), period_seconds=1, failure_threshold=1)
    c = Container("app", "busybox", command=("sleep", "300"), liveness_probe=probe)
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("never", c, policy="Never"))
        wait_until(rt, lambda: rt.status("default/never").phase == FAILED, timeout=15)
        st = _status(rt, "default/never")
        assert st.restart_count == 0 and st.exit_code == 143  # SIGTERM, as kubelet's kill
        assert st.probe_events[-1][3] == "Container app failed liveness probe"


def test_startup_probe_gates_started_and_readiness(tmp_path: Path) -> None:
    flag = tmp_path / "started"
    startup = Probe(exec_command=("test", "-f", str(flag)), period_seconds=1, failure_threshold=30)
    ready = Probe(exec_command=("true",), period_seconds=1)
    c = Container("app", "busybox", command=("sleep", "300"), startup_probe=startup,
                  readiness_probe=ready)  # fmt: skip
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("gated", c))
        wait_until(rt, lambda: _status(rt, "default/gated").state == RUNNING)
        rt.run_until(lambda: False, 2.5)  # readiness would pass: it must not run yet
        st = _status(rt, "default/gated")
        assert not st.startup_done and not st.ready
        assert any(e[3].startswith("Startup probe failed") for e in st.probe_events)
        flag.write_text("")
        wait_until(rt, lambda: _status(rt, "default/gated").startup_done, timeout=10)
        wait_until(rt, lambda: _status(rt, "default/gated").ready, timeout=10)
        assert _status(rt, "default/gated").restart_count == 0


def test_startup_probe_alone_makes_ready_once_passed(tmp_path: Path) -> None:
    startup = Probe(exec_command=("true",), period_seconds=1, initial_delay_seconds=1)
    c = Container("app", "busybox", command=("sleep", "300"), startup_probe=startup)
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("alone", c))
        wait_until(rt, lambda: _status(rt, "default/alone").state == RUNNING)
        assert not _status(rt, "default/alone").ready
        wait_until(rt, lambda: _status(rt, "default/alone").ready, timeout=10)
        assert _status(rt, "default/alone").startup_done


def test_failing_startup_probe_restarts(tmp_path: Path) -> None:
    startup = Probe(
        exec_command=("false",),
        period_seconds=1,
        failure_threshold=2,
        termination_grace_period_seconds=1,
    )
    c = Container("app", "busybox", command=("sleep", "300"), startup_probe=startup)
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("nostart", c))
        wait_until(rt, lambda: _status(rt, "default/nostart").restart_count >= 1, timeout=15)
        st = _status(rt, "default/nostart")
        msgs = [e[3] for e in st.probe_events]
        assert "Container app failed startup probe, will be restarted" in msgs
        assert any(m.startswith("Startup probe failed") for m in msgs)


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        _Handler.seen.append({"path": self.path, **{k: v for k, v in self.headers.items()}})
        code = 500 if self.path.startswith("/bad") else 200
        if self.path.startswith("/hop"):  # same host: followed, to /bad
            self.send_response(302)
            self.send_header("Location", "/bad")
        elif self.path.startswith("/away"):  # another host: the 302 is the answer
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.invalid/")
        else:
            self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[int]:
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def test_http_check_headers_host_and_status() -> None:
    _Handler.seen.clear()
    with _server() as port:
        ok, _ = probes.http_check(
            "http", "127.0.0.1", port, "/healthz?x=1", 3, [("Host", "example.test"), ("X-A", "b")]
        )
        assert ok
        bad, out = probes.http_check("http", "127.0.0.1", port, "/bad", 3)
        assert not bad and out == "HTTP probe failed with statuscode: 500"
        hop, out = probes.http_check("http", "127.0.0.1", port, "/hop", 3)
        assert not hop and out == "HTTP probe failed with statuscode: 500"
        assert probes.http_check("http", "127.0.0.1", port, "/away", 3)[0]
    first = _Handler.seen[0]
    assert first["path"] == "/healthz?x=1"
    assert first["Host"] == "example.test" and first["X-A"] == "b"
    assert first["User-Agent"].startswith("kube-probe/") and first["Accept"] == "*/*"
    assert _Handler.seen[1]["Host"] == f"127.0.0.1:{port}"


def test_http_and_tcp_check_refused_say_why(capsys: object) -> None:
    port = free_port()
    ok, out = probes.http_check("http", "127.0.0.1", port, "/", 2)
    assert not ok
    assert (
        out
        == f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )
    ok, out = probes.tcp_check("127.0.0.1", port, 2)
    assert not ok and out == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    assert probes.main(["tcp", "127.0.0.1", str(port), "2"]) == 1


def test_check_argv_carries_scheme_host_and_headers() -> None:
    probe = Probe(http_get_port="web", http_get_path="/h", http_get_scheme="HTTPS",
                  http_get_host="10.0.0.9", http_headers=(("X-A", "b c"),))  # fmt: skip
    from podnet.model.objects import ContainerPort

    c = Container("c", "i", ports=(ContainerPort(8443, name="web"),))
    argv = probes.check_argv(probe, c, "10.1.0.5")
    assert argv is not None
    assert argv[-7:] == ["http", "https", "10.0.0.9", "8443", "/h", "1", "X-A:b c"]
    assert probes.check_argv(Probe(tcp_socket_port="nope"), c, "10.1.0.5") is None
    with socket.socket() as s:  # a listening port: tcp succeeds
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert probes.tcp_check("127.0.0.1", s.getsockname()[1], 2)[0]


def test_unknown_port_name_errors_without_changing_the_result(tmp_path: Path) -> None:
    probe = Probe(tcp_socket_port="nope", period_seconds=1, failure_threshold=1)
    c = Container("app", "busybox", command=("sleep", "300"), liveness_probe=probe)
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("noport", c))
        wait_until(rt, lambda: len(_status(rt, "default/noport").probe_events) >= 2, timeout=10)
        st = _status(rt, "default/noport")
        assert st.restart_count == 0 and st.state == RUNNING  # the result was thrown away
        assert st.probe_events[0][1:] == (
            "Warning",
            "Unhealthy",
            "Liveness probe errored: port nope not found in container app",
        )
