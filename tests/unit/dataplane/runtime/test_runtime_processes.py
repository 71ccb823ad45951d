"""The runtime with real processes on the host spawner (loopback only).

Every runtime is closed by its context manager, which kills the process groups it
started (checked by pid in ``test_stop_kills_the_whole_process_group``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.runtime import host_runtime, pod, wait_until

from podnet.dataplane.runtime.state import FAILED, RUNNING, SUCCEEDED, TERMINATED
from podnet.errors import ImageError
from podnet.model.objects import Container

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs busybox")


def test_busybox_echo_succeeds_and_logs(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, ev):
        c = Container("c", "busybox", command=("sh", "-c", "echo hello; echo $(WHO) >&2"),
                      env=(("WHO", "world"),))  # fmt: skip
        rt.start_pod(pod("echo", c, policy="Never"))
        wait_until(rt, lambda: rt.status("default/echo").phase == SUCCEEDED)
        assert rt.logs("default/echo") == ["hello", "world"]
        assert ("default/echo", "hello") in ev.logs
        st = rt.status("default/echo").containers[0]
        assert st.state == TERMINATED and st.exit_code == 0 and st.reason == "Completed"


def test_applets_on_path_are_busybox(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        c = Container("c", "busybox", command=("sh", "-c", "readlink -f $(which ping)"))
        rt.start_pod(pod("applets", c, policy="Never"))
        wait_until(rt, lambda: rt.status("default/applets").phase == SUCCEEDED)
        # the image's own busybox (builtin.RENAMED), beside its applet links
        [exe] = rt.logs("default/applets")
        assert exe.endswith("/busybox-bin/busybox"), exe


def test_exit_code_and_failed_phase_with_never(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("fail", Container("c", "busybox", command=("sh", "-c", "exit 3")),
                         policy="Never"))  # fmt: skip
        wait_until(rt, lambda: rt.status("default/fail").phase == FAILED)
        st = rt.status("default/fail").containers[0]
        assert st.exit_code == 3 and st.reason == "Error" and st.restart_count == 0


def test_on_failure_restarts_until_success(tmp_path: Path) -> None:
    count = tmp_path / "count"
    script = f"echo x >> {count}; [ $(wc -l < {count}) -ge 3 ]"
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("retry", Container("c", "busybox", command=("sh", "-c", script)),
                         policy="OnFailure"))  # fmt: skip
        wait_until(rt, lambda: rt.status("default/retry").phase == SUCCEEDED)
        st = rt.status("default/retry").containers[0]
        assert st.restart_count == 2 and st.exit_code == 0
        assert count.read_text().count("x") == 3


def test_always_restarts_even_after_success(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("again", Container("c", "busybox", command=("true",))))
        wait_until(rt, lambda: rt.status("default/again").containers[0].restart_count >= 2)
        assert rt.status("default/again").phase == RUNNING  # restarting counts as running


def test_init_containers_run_first_in_order(tmp_path: Path) -> None:
    f = tmp_path / "order"
    init = (
        Container("one", "busybox", command=("sh", "-c", f"echo one >> {f}")),
        Container("two", "busybox", command=("sh", "-c", f"echo two >> {f}")),
    )
    app = Container("app", "busybox", command=("cat", str(f)))
    with host_runtime(tmp_path) as (rt, ev):
        rt.start_pod(pod("init", app, policy="Never", init_containers=init))
        wait_until(rt, lambda: rt.status("default/init").phase == SUCCEEDED)
        assert rt.logs("default/init", "app") == ["one", "two"]
        assert ("default/init/app", "one") in ev.logs  # several containers: prefixed


def test_failed_init_container_fails_pod_with_never(tmp_path: Path) -> None:
    init = (Container("bad", "busybox", command=("false",)),)
    app = Container("app", "busybox", command=("echo", "never"))
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("initfail", app, policy="Never", init_containers=init))
        wait_until(rt, lambda: rt.status("default/initfail").phase == FAILED)
        assert rt.logs("default/initfail", "app") == []


def test_working_dir_and_hostname_env(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        c = Container("c", "busybox", command=("sh", "-c", "pwd; echo $HOSTNAME"),
                      working_dir=str(tmp_path))  # fmt: skip
        rt.start_pod(pod("wd", c, policy="Never", hostname="web-0"))
        wait_until(rt, lambda: rt.status("default/wd").phase == SUCCEEDED)
        assert rt.logs("default/wd") == [str(tmp_path), "web-0"]


def test_unknown_image_fails_before_any_process(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _), pytest.raises(ImageError):
        rt.start_pod(pod("x", Container("c", "redis:7")))


def test_missing_program_is_a_start_error(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, _):
        rt.start_pod(pod("noprog", Container("c", "busybox", command=("/no/such/program",)),
                         policy="Never"))  # fmt: skip
        wait_until(rt, lambda: rt.status("default/noprog").phase == FAILED)
        st = rt.status("default/noprog").containers[0]
        assert st.exit_code == 128 and st.reason == "StartError"


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    with host_runtime(tmp_path) as (rt, ev):
        c = Container("c", "busybox", command=("sh", "-c", "sleep 300 & echo $!; wait"))
        rt.start_pod(pod("tree", c))
        wait_until(rt, lambda: len(rt.logs("default/tree")) == 1)
        child = int(rt.logs("default/tree")[0])
        os.kill(child, 0)  # alive
        rt.stop_pod("default/tree")
        assert "default/tree" not in rt.pods()
        wait_until(rt, lambda: not _alive(child), timeout=5)
        assert ("default/tree", False) in ev.ready


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of a reaped-by-init child counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_nginx_serves_welcome_page(tmp_path: Path) -> None:
    from support.runtime import free_port, http_get

    port = free_port()
    with host_runtime(tmp_path, nginx_port=port) as (rt, ev):
        rt.start_pod(pod("web", Container("server", "docker.io/library/nginx:1.25")))
        wait_until(rt, lambda: ("default/web", True) in ev.ready)
        wait_until(rt, lambda: _get_ok(port))
        assert "Welcome to nginx!" in http_get(port)
        wait_until(
            rt, lambda: any('"GET / HTTP/1.1" 200' in line for line in rt.logs("default/web"))
        )


def _get_ok(port: int) -> bool:
    from support.runtime import http_get

    try:
        http_get(port)
        return True
    except OSError:
        return False
