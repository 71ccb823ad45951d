"""Pod sandboxes are forked by the pause server, not by podnet: who their parent is,
what a set-up failure reports, and that a pause killed from outside is still removed.
"""

from __future__ import annotations

import os
import signal

import pytest
from support.sandbox import Driver, alive, require_kernel, wait_until

from podnet.dataplane.sandbox import holders
from podnet.errors import NotSupportedError

pytestmark = pytest.mark.kernel

PODS = [
    {"namespace": "default", "name": f"p{i}", "node": "node-0", "ip": f"10.244.0.{i + 2}"}
    for i in range(3)
]


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def test_pauses_are_children_of_one_server_in_the_cluster_pid_namespace(driver: Driver) -> None:
    driver.ok(op="nodes", n=1)
    driver.ok(op="pods", pods=PODS)
    pids = driver.ok(op="pids")["pids"]
    pauses = [pids[f"pod/default/p{i}"] for i in range(3)]
    parents = {int(_status(p)["PPid"]) for p in pauses}
    assert len(parents) == 1
    (server,) = parents
    assert server not in (driver.proc.pid, pids["init"])
    assert int(_status(server)["PPid"]) == driver.proc.pid
    # the server is in the cluster's PID namespace, so its pauses die with the init
    cluster_pidns = os.stat(f"/proc/{pids['init']}/ns/pid").st_ino
    for pid in [server, *pauses]:
        assert os.stat(f"/proc/{pid}/ns/pid").st_ino == cluster_pidns
    nets = {os.stat(f"/proc/{p}/ns/net").st_ino for p in pauses}
    assert len(nets) == 3 and os.stat("/proc/self/ns/net").st_ino not in nets
    # sleep infinity: coreutils', or static busybox's applet (holders.pause_argv)
    assert all(_cmdline(p)[-2:] == ["sleep", "infinity"] for p in pauses)
    assert all(os.readlink(f"/proc/{p}/exe").endswith(("sleep", "busybox")) for p in pauses)
    out = driver.ok(op="exec", pod="default/p1", argv=["cat", "/etc/hostname"])["stdout"]
    assert out.strip() == "p1"


def test_a_pause_killed_from_outside_is_reaped_on_removal(driver: Driver) -> None:
    driver.ok(op="nodes", n=1)
    driver.ok(op="pods", pods=PODS)
    pause = driver.ok(op="pids")["pids"]["pod/default/p0"]
    os.kill(pause, signal.SIGKILL)
    # a zombie of the server until podnet asks for it to be reaped: the pid stays taken
    assert wait_until(lambda: _status(pause)["State"].startswith("Z"))
    r = driver.call(op="exec", pod="default/p0", argv=["true"])
    assert not r["ok"] and r["error"] == "ClusterError"
    driver.ok(op="remove", pod="default/p0")
    assert wait_until(lambda: not alive(pause))
    driver.ok(op="pods", pods=PODS[:1])  # the same pod again
    assert driver.ok(op="exec", pod="default/p0", argv=["true"])["rc"] == 0


def test_a_failed_set_up_is_an_error_and_leaves_no_child() -> None:
    require_kernel()
    server = holders.PauseServer.start()  # a host child here: the test kills what it made
    try:
        bad, good = server.spawn(
            [("bad", {"/nonexistent/podnet/x": "x"}), ("good", {"/etc/hostname": "good\n"})]
        )
        assert isinstance(bad, NotSupportedError) and "pod sandbox bad" in str(bad)
        assert isinstance(good, holders.Holder)
        assert good.poll() is None
        for ns in ("net", "uts", "ipc", "mnt"):
            ours = os.stat(f"/proc/self/ns/{ns}").st_ino
            assert os.stat(f"/proc/{good.pid}/ns/{ns}").st_ino != ours, ns
            # the server made both pods' namespaces itself, and is back in its own
            assert os.stat(f"/proc/{server._proc.pid}/ns/{ns}").st_ino == ours, ns
        good.kill()
        assert good.wait() == -signal.SIGKILL
        assert good.poll() == -signal.SIGKILL
        assert not alive(good.pid)
    finally:
        server.close()


def test_a_dead_pause_server_fails_new_pods_and_close_still_works(driver: Driver) -> None:
    driver.ok(op="nodes", n=1)
    driver.ok(op="pods", pods=PODS[:2])
    pids = driver.ok(op="pids")["pids"]
    server = int(_status(pids["pod/default/p0"])["PPid"])
    os.kill(server, signal.SIGKILL)
    r = driver.call(op="pods", pods=PODS[2:])
    assert not r["ok"] and r["error"] == "NotSupportedError", r
    # the pauses live on (re-parented to the cluster init), and so do their pods
    assert driver.ok(op="exec", pod="default/p1", argv=["true"])["rc"] == 0
    driver.ok(op="close")
    assert wait_until(lambda: not any(alive(p) for p in pids.values()))


def test_more_pods_than_one_batch_of_requests_in_one_call() -> None:
    """The server answers as it reads: requests go in batches (holders.SPAWN_BATCH), so
    a call for many pods neither deadlocks on the two pipes nor mixes up the answers."""
    require_kernel()
    server = holders.PauseServer.start()
    made: list[holders.Holder] = []
    try:
        n = 2 * holders.SPAWN_BATCH + 5
        got = server.spawn([(f"p{i}", {"/etc/hostname": f"p{i}\n"}) for i in range(n)])
        made = [h for h in got if isinstance(h, holders.Holder)]
        assert len(made) == n
        uts = {os.stat(f"/proc/{h.pid}/ns/uts").st_ino for h in made}
        assert len(uts) == n
    finally:
        for h in made:
            h.kill()
            h.wait()
        server.close()
    assert not any(alive(h.pid) for h in made)
