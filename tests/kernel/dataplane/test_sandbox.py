"""The live sandbox: 2 nodes x 3 pods, routed traffic, pod files, and teardown.

Each test drives a sandbox in a child process (tests/conftest.py) and talks
only to pod IPs inside the namespaces that child created.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from support.sandbox import (
    Driver,
    HostState,
    alive,
    driver_argv,
    driver_env,
    holders_of,
    netns_inodes,
    now_ticks,
    ns_mounted,
    require_kernel,
    wait_until,
)

pytestmark = pytest.mark.kernel

# pod key -> (node, ip, hostname, subdomain)
PODS = {
    "default/a0": ("node-0", "10.244.0.2", None, None),
    "default/a1": ("node-0", "10.244.0.3", None, None),
    "web/a2": ("node-0", "10.244.0.4", "db-0", "db"),
    "default/b0": ("node-1", "10.244.1.2", None, None),
    "default/b1": ("node-1", "10.244.1.3", None, None),
    "web/b2": ("node-1", "10.244.1.4", None, None),
}

SERVER = (
    "import socket,sys;s=socket.socket();"
    "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
    "s.bind(('0.0.0.0',int(sys.argv[1])));s.listen(1);print('listening',flush=True);"
    "c,a=s.accept();c.sendall((socket.gethostname()+' '+a[0]).encode());c.close()"
)
CLIENT = (
    "import socket,sys;c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3);"
    "print(c.recv(100).decode())"
)
PY = "/usr/bin/python3"


def pod_specs() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for key, (node, ip, hostname, subdomain) in PODS.items():
        ns, name = key.split("/")
        out.append(
            {
                "namespace": ns,
                "name": name,
                "node": node,
                "ip": ip,
                "hostname": hostname,
                "subdomain": subdomain,
            }
        )
    return out


def build(d: Driver) -> None:
    d.ok(op="nodes", n=2)
    d.ok(op="pods", pods=pod_specs())
    d.ok(op="pids")


def run_in(d: Driver, pod: str, *argv: str) -> str:
    r = d.ok(op="exec", pod=pod, argv=list(argv))
    assert r["rc"] == 0, r
    return str(r["stdout"])


@pytest.mark.parametrize("dst", ["default/a1", "web/a2", "default/b0", "web/b2"])
def test_ping_same_node_and_across_nodes(driver: Driver, dst: str) -> None:
    build(driver)
    ip = PODS[dst][1]
    out = run_in(driver, "default/a0", "busybox", "ping", "-c", "1", "-W", "2", ip)
    # Routed, never bridged: one hop through the node, two across nodes.
    ttl = 63 if PODS[dst][0] == "node-0" else 62
    assert f"ttl={ttl}" in out


@pytest.mark.parametrize(("src", "dst"), [("default/a0", "default/a1"), ("default/b1", "web/a2")])
def test_tcp_between_pods(driver: Driver, src: str, dst: str) -> None:
    build(driver)
    driver.ok(op="spawn", pod=dst, argv=[PY, "-c", SERVER, "8080"], id="srv")
    # the server is up once its port answers; retry the client until then
    replies: list[dict[str, object]] = []
    client = [PY, "-c", CLIENT, PODS[dst][1], "8080"]

    def answered() -> bool:
        replies.append(driver.ok(op="exec", pod=src, argv=client))
        return replies[-1]["rc"] == 0

    assert wait_until(answered, timeout=10)
    hostname = PODS[dst][2] or dst.split("/")[1]
    # the server saw the client's pod IP: no NAT between pods
    assert replies[-1]["stdout"] == f"{hostname} {PODS[src][1]}\n"
    assert driver.ok(op="wait", id="srv", timeout=5)["rc"] == 0


def test_unknown_pod_ip_is_unreachable(driver: Driver) -> None:
    build(driver)
    r = driver.ok(
        op="exec", pod="default/a0", argv=["busybox", "ping", "-c1", "-W1", "10.244.0.99"]
    )
    assert r["rc"] != 0


def test_pod_files_and_hostname(driver: Driver) -> None:
    build(driver)
    assert run_in(driver, "default/a0", "hostname") == "a0\n"
    assert run_in(driver, "web/a2", "hostname") == "db-0\n"
    assert run_in(driver, "web/a2", "cat", "/etc/hostname") == "db-0\n"
    assert run_in(driver, "web/b2", "cat", "/etc/resolv.conf") == (
        "search web.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )
    hosts = run_in(driver, "default/a0", "cat", "/etc/hosts")
    assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert hosts.endswith("\n10.244.0.2\ta0\n")
    hosts = run_in(driver, "web/a2", "cat", "/etc/hosts")
    assert hosts.endswith("\n10.244.0.4\tdb-0.db.web.svc.cluster.local\tdb-0\n")
    # the host's own files are untouched
    with open("/etc/hostname") as f:
        assert "db-0" not in f.read()


def test_pod_network_config(driver: Driver) -> None:
    build(driver)
    addrs = run_in(driver, "default/b0", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert "10.244.1.2/32" in addrs
    routes = run_in(driver, "default/b0", "ip", "route")
    assert "default via 10.244.1.1 dev eth0" in routes
    node_routes = driver.ok(op="node_exec", node="node-1", argv=["ip", "route"])["stdout"]
    assert "10.244.0.0/24 via 172.18.0.2 dev eth0" in node_routes
    assert "unreachable 10.244.1.0/24" in node_routes
    fwd = driver.ok(op="node_exec", node="node-1", argv=["sysctl", "-n", "net.ipv4.ip_forward"])
    assert fwd["stdout"].strip() == "1"
    assert driver.ok(op="node_exec", node="node-1", argv=["hostname"])["stdout"] == "node-1\n"


def test_spawn_pid_is_the_process_in_the_pod(driver: Driver) -> None:
    build(driver)
    pid = driver.ok(op="spawn", pod="default/a0", argv=["sleep", "30"], id="s")["pid"]
    pause = driver.ok(op="pids")["pids"]["pod/default/a0"]
    assert wait_until(lambda: os.readlink(f"/proc/{pid}/exe").endswith("sleep"))
    for kind in ("net", "uts", "mnt"):
        assert (
            os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/{pause}/ns/{kind}").st_ino
        )


def test_remove_pod_kills_its_processes_and_link(driver: Driver) -> None:
    build(driver)
    pid = driver.ok(op="spawn", pod="default/a1", argv=["sleep", "30"], id="s")["pid"]
    pause = driver.ok(op="pids")["pids"]["pod/default/a1"]
    driver.ok(op="remove", pod="default/a1")
    assert wait_until(lambda: not alive(pid) and not alive(pause))
    links = driver.ok(op="node_exec", node="node-0", argv=["ip", "-o", "link"])["stdout"]
    assert "default/a1" not in links
    assert (
        "10.244.0.3" not in driver.ok(op="node_exec", node="node-0", argv=["ip", "route"])["stdout"]
    )
    # the other pods still talk
    run_in(driver, "default/a0", "busybox", "ping", "-c", "1", "-W", "2", "10.244.1.2")


@pytest.mark.parametrize(
    "bad",
    [
        {"namespace": "x", "name": "p", "node": "node-0", "ip": "10.244.1.5"},  # other CIDR
        {"namespace": "x", "name": "p", "node": "node-0", "ip": "10.244.0.1"},  # gateway
        {"namespace": "x", "name": "p", "node": "node-9", "ip": "10.244.0.5"},  # no node
    ],
)
def test_bad_pods_are_refused_before_anything_changes(driver: Driver, bad: dict[str, str]) -> None:
    build(driver)
    before = driver.ok(op="pids")["pids"]
    r = driver.call(op="pods", pods=[bad])
    assert not r["ok"] and r["error"] == "ClusterError"
    assert driver.ok(op="pids")["pids"] == before


def _teardown_is_complete(d: Driver, before: HostState, inodes: set[int], down: int) -> None:
    assert inodes
    pids = set(d.known_pids)
    assert wait_until(lambda: not any(alive(p) for p in pids)), [p for p in pids if alive(p)]
    assert wait_until(lambda: not holders_of(inodes, started_before=down))
    assert HostState.take() == before


@pytest.mark.parametrize("how", ["close", "sigkill", "sigterm"])
def test_teardown_leaves_nothing(how: str) -> None:
    require_kernel()
    before = HostState.take()
    d = Driver(driver_argv(), driver_env())
    try:
        build(d)
        d.ok(op="spawn", pod="default/b0", argv=["sleep", "60"], id="s")
        # a container whose own child outlives it: re-parented to the cluster init,
        # and still removed with the cluster
        d.ok(
            op="spawn",
            pod="web/a2",
            argv=["busybox", "sh", "-c", "sleep 60 >/dev/null 2>&1 & exit 0"],
            id="g",
        )
        d.ok(op="wait", id="g")
        # the holders' netns (not the spawned pid's: it may still be in nsenter)
        inodes = netns_inodes(set(d.ok(op="pids")["pids"].values()))
        assert os.stat("/proc/self/ns/net").st_ino not in inodes
        # nothing of ours is pinned by a mount (ip netns add would); once our
        # processes are dead nothing can pin them any more
        assert not ns_mounted(inodes)
        if how == "close":
            d.ok(op="close")
            assert d.proc.wait(timeout=10) == 0
        else:
            d.proc.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGTERM)
            d.proc.wait(timeout=10)
        _teardown_is_complete(d, before, inodes, now_ticks() + 1)
    finally:
        d.kill()


REENTER = """
import os, subprocess, sys, threading
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import ClusterError
host = os.stat('/proc/self/ns/pid').st_ino
for round in range(2):
    sb = Sandbox.enter()
    try:
        Sandbox.enter()
        sys.exit('second enter while open')
    except ClusterError:
        pass
    sb.add_nodes([])
    # podnet may still start threads and ordinary (host) subprocesses meanwhile
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    out = subprocess.run(['readlink', '/proc/self/ns/pid'], capture_output=True, text=True)
    assert out.stdout.strip() == f'pid:[{host}]', out.stdout
    sb.close()
    # children go to the host PID namespace again once the sandbox is closed
    out = subprocess.run(['readlink', '/proc/self/ns/pid'], capture_output=True, text=True)
    assert out.stdout.strip() == f'pid:[{host}]', out.stdout
print('ok')
"""


def test_enter_close_enter_again_and_threads() -> None:
    require_kernel()
    out = subprocess.run(
        [sys.executable, "-c", REENTER],
        env=driver_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.stdout == "ok\n", out.stderr


def test_a_dead_holder_is_an_error_not_a_stale_pid(driver: Driver) -> None:
    build(driver)
    os.kill(driver.ok(op="pids")["pids"]["node/node-1"], signal.SIGKILL)
    r = driver.call(
        op="pods", pods=[{"namespace": "x", "name": "late", "node": "node-1", "ip": "10.244.1.9"}]
    )
    assert not r["ok"] and r["error"] == "ClusterError"
    r = driver.call(op="node_exec", node="node-1", argv=["ip", "link"])
    assert not r["ok"] and r["error"] == "ClusterError"
    driver.ok(op="remove", pod="default/b0")  # its node is gone; removing still works
    run_in(driver, "default/a0", "busybox", "ping", "-c", "1", "-W", "2", "10.244.0.3")
