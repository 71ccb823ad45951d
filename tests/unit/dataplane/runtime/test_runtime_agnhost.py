"""agnhost subcommands run as containers, and readiness probes against them.

Loopback only: every server binds a free port on this host (the host spawner), every
client talks to 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import urllib.error
from pathlib import Path

import pytest
from support.runtime import free_port, host_runtime, http_get, pod, wait_until

from podnet.dataplane.runtime.state import FAILED, SUCCEEDED
from podnet.model.objects import Container, ContainerPort, Probe

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.45"


def _http_ok(port: int, path: str = "/") -> bool:
    try:
        http_get(port, path)
        return True
    except (OSError, urllib.error.URLError):
        return False


def test_serve_hostname_http_via_command(tmp_path: Path) -> None:
    port = free_port()
    c = Container("s", AGNHOST, command=("/agnhost", "serve-hostname", f"--port={port}"))
    with host_runtime(tmp_path) as (rt, _ev):
        rt.start_pod(pod("sh", c))
        wait_until(rt, lambda: _http_ok(port))
        assert http_get(port) == socket.gethostname()
        wait_until(rt, lambda: any("HTTP request from" in ln for ln in rt.logs("default/sh")))


def test_serve_hostname_udp_tcp_via_args(tmp_path: Path) -> None:
    port = free_port()
    c = Container("s", AGNHOST, args=("serve-hostname", "--http=false", "--udp", "--tcp",
                                      "--port", str(port)))  # fmt: skip
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("raw", c))
        wait_until(rt, lambda: any("Serving on port" in ln for ln in rt.logs("default/raw")))
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            assert s.recv(256).decode() == socket.gethostname()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(3)
            u.sendto(b"x", ("127.0.0.1", port))
            assert u.recv(256).decode() == socket.gethostname()


def test_serve_hostname_rejects_http_with_tcp(tmp_path: Path) -> None:
    c = Container("s", AGNHOST, args=("serve-hostname", "--tcp"))
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("bad", c, policy="Never"))
        wait_until(rt, lambda: rt.status("default/bad").phase == FAILED)


def test_netexec_endpoints(tmp_path: Path) -> None:
    http, udp = free_port(), free_port()
    c = Container("n", AGNHOST, args=("netexec", f"--http-port={http}", f"--udp-port={udp}"))
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("netexec", c))
        wait_until(rt, lambda: _http_ok(http, "/healthz"))
        assert http_get(http, "/hostname") == socket.gethostname()
        assert http_get(http, "/echo?msg=hello") == "hello"
        assert http_get(http, "/clientip").startswith("127.0.0.1:")
        dial = json.loads(http_get(http, f"/dial?host=127.0.0.1&port={udp}&request=hostname"
                                         "&protocol=udp&tries=2"))  # fmt: skip
        assert dial == {"responses": [socket.gethostname()] * 2}
        dial = json.loads(http_get(http, f"/dial?host=127.0.0.1&port={http}&request=echo?msg=x"))
        assert dial == {"responses": ["x"]}
        with pytest.raises(urllib.error.HTTPError) as e:
            http_get(http, "/dial?host=127.0.0.1&port=1")
        assert e.value.code == 400
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(3)
            u.sendto(b"echo hi there", ("127.0.0.1", udp))
            assert u.recv(256) == b"hi there"


def test_connect_success_refused_and_timeout(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        open_port = listener.getsockname()[1]
        closed_port = free_port()
        pods = {
            "ok": ("connect", f"127.0.0.1:{open_port}", "--timeout", "1s"),
            "refused": ("connect", f"127.0.0.1:{closed_port}", "--timeout=1s"),
            "badarg": ("connect", "no-port-here"),
            "udp": ("connect", f"127.0.0.1:{closed_port}", "--protocol=udp", "--timeout=1s"),
        }
        with host_runtime(tmp_path) as (rt, _):
            for name, args in pods.items():
                rt.start_pod(pod(name, Container("c", AGNHOST, args=args), policy="Never"))
            done = (SUCCEEDED, FAILED)
            wait_until(rt, lambda: all(rt.status(f"default/{n}").phase in done for n in pods))
            assert rt.status("default/ok").phase == SUCCEEDED
            assert rt.status("default/refused").phase == FAILED
            assert rt.logs("default/refused") == ["REFUSED"]
            assert rt.logs("default/badarg")[0].startswith("UNKNOWN")
            assert rt.logs("default/udp")[0].startswith("REFUSED")


def test_porter_serves_env_values(tmp_path: Path) -> None:
    p1, p2, pu = free_port(), free_port(), free_port()
    c = Container("p", AGNHOST, args=("porter",), env=(
        (f"SERVE_PORT_{p1}", "foo"), (f"SERVE_TCP_PORT_{p2}", "bar"),
        (f"SERVE_UDP_PORT_{pu}", "baz"),
    ))  # fmt: skip
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("porter", c))
        wait_until(rt, lambda: _http_ok(p1) and _http_ok(p2))
        assert http_get(p1) == "foo" and http_get(p2, "/any/path") == "bar"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(3)
            u.sendto(b"q", ("127.0.0.1", pu))
            assert u.recv(64) == b"baz"


@pytest.mark.parametrize("kind", ["http", "tcp", "http-named"])
def test_readiness_probe_turns_ready(tmp_path: Path, kind: str) -> None:
    port = free_port()
    if kind == "http":
        probe = Probe(http_get_port=port, http_get_path="/", period_seconds=1)
    elif kind == "tcp":
        probe = Probe(tcp_socket_port=port, period_seconds=1)
    else:
        probe = Probe(http_get_port="web", period_seconds=1)
    c = Container("s", AGNHOST, args=("serve-hostname", f"--port={port}"),
                  ports=(ContainerPort(port, name="web"),), readiness_probe=probe)  # fmt: skip
    with host_runtime(tmp_path) as (rt, ev):
        rt.start_pod(pod("probed", c))
        wait_until(rt, lambda: ("default/probed", True) in ev.ready, timeout=20)
        assert rt.status("default/probed").ready


def test_exec_probe_failing_keeps_pod_unready_then_ready(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    probe = Probe(exec_command=("test", "-f", str(flag)), period_seconds=1, failure_threshold=1)
    c = Container("c", "busybox", command=("sleep", "300"), readiness_probe=probe)
    with host_runtime(tmp_path) as (rt, ev):
        rt.start_pod(pod("execprobe", c))
        wait_until(rt, lambda: rt.status("default/execprobe").phase == "Running")
        rt.run_until(lambda: False, 1.5)  # let a few probes fail
        assert not rt.status("default/execprobe").ready and ev.ready == []
        flag.write_text("")
        wait_until(rt, lambda: ("default/execprobe", True) in ev.ready, timeout=10)
        flag.unlink()
        wait_until(rt, lambda: ev.ready[-1] == ("default/execprobe", False), timeout=10)
