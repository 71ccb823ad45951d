"""Kernel tests of the Service proxy table, in a scratch topology of our own.

One "node" netns (forwarding on, address 172.18.0.2 on a veth) and three "pod"
netns behind veths, routed Calico-style (/32 pod addresses, the node side answers as
10.244.0.1). Pods a and b run small Python servers that answer with their name; pod c
is a client that is no endpoint. Everything is created under unique ``pnt-<hex>``
names and removed in ``finally`` (servers killed by pid, namespaces deleted), so a
failing test leaves nothing behind. Nothing touches the host's own namespace.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from podnet.dataplane.nft.transaction import ExecNftRunner
from podnet.dataplane.proxy.services import compile_services
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service, ServicePort

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft"
    ),
]

POD_IPS = {"a": "10.244.0.2", "b": "10.244.0.3", "c": "10.244.0.4"}
NODE_IP = "172.18.0.2"

SERVER = r"""
import socket, sys, threading
name, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64); return s
def serve_tcp(s):
    peer_port = s.getsockname()[1] == 7070  # answers with the client's address instead
    while True:
        c, peer = s.accept(); c.sendall((peer[0] if peer_port else name).encode()); c.close()
def serve_udp(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", port))
    while True:
        _, peer = u.recvfrom(100); u.sendto(name.encode(), peer)
socks = [tcp(p) for p in ports]
for s in socks: threading.Thread(target=serve_tcp, args=(s,), daemon=True).start()
for p in ports: threading.Thread(target=serve_udp, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

CLIENT = r"""
import json, socket, sys
host, port, count, proto = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = []
for _ in range(count):
    try:
        if proto == "tcp":
            s = socket.create_connection((host, port), timeout=2)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
            s.connect((host, port)); s.send(b"hi")
        out.append(s.recv(100).decode()); s.close()
    except ConnectionRefusedError:
        out.append("refused")
    except OSError as e:
        out.append(type(e).__name__)
print(json.dumps(out))
"""


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@dataclass
class Topology:
    prefix: str
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    def ns(self, who: str) -> str:
        return f"{self.prefix}-{who}"

    @property
    def runner(self) -> ExecNftRunner:
        return ExecNftRunner(("ip", "netns", "exec", self.ns("node")))

    def build(self) -> None:
        node = self.ns("node")
        sh("ip", "netns", "add", node)
        sh("ip", "-n", node, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # The "node network" link: a veth pair inside the node (no dummy module here).
        sh("ip", "-n", node, "link", "add", "nd0", "type", "veth", "peer", "nd1")
        sh("ip", "-n", node, "link", "set", "nd1", "up")
        sh("ip", "-n", node, "addr", "add", f"{NODE_IP}/24", "dev", "nd0")
        sh("ip", "-n", node, "link", "set", "nd0", "up")
        # Locally generated packets are routed before the output nat hook rewrites them.
        sh("ip", "-n", node, "route", "add", "10.96.0.0/12", "dev", "nd0")
        for who, ip in POD_IPS.items():
            pod, veth = self.ns(who), f"v{who}"
            sh("ip", "netns", "add", pod)
            sh("ip", "-n", node, "link", "add", veth, "type", "veth", "peer", "eth0", "netns", pod)
            sh("ip", "-n", node, "addr", "add", "10.244.0.1/32", "dev", veth)
            sh("ip", "-n", node, "link", "set", veth, "up")
            sh("ip", "-n", node, "route", "add", f"{ip}/32", "dev", veth)
            sh("ip", "-n", pod, "link", "set", "lo", "up")
            sh("ip", "-n", pod, "addr", "add", f"{ip}/32", "dev", "eth0")
            sh("ip", "-n", pod, "link", "set", "eth0", "up")
            sh("ip", "-n", pod, "route", "add", "10.244.0.1", "dev", "eth0")
            sh("ip", "-n", pod, "route", "add", "default", "via", "10.244.0.1")

    def serve(self, who: str, *ports: int) -> None:
        argv = ["ip", "netns", "exec", self.ns(who), sys.executable, "-c", SERVER, who]
        proc = subprocess.Popen([*argv, *map(str, ports)], stdout=subprocess.PIPE, text=True)
        self.servers.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    def connect(
        self, who: str, host: str, port: int, count: int = 1, proto: str = "tcp"
    ) -> list[str]:
        argv = ["ip", "netns", "exec", self.ns(who), sys.executable, "-c", CLIENT]
        out = subprocess.run(
            [*argv, host, str(port), str(count), proto], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        result: list[str] = json.loads(out.stdout)
        return result

    def teardown(self) -> None:
        for proc in self.servers:
            proc.kill()
            with proc:  # reaps it and closes our end of its stdout pipe
                pass
        for who in ["node", *POD_IPS]:
            subprocess.run(["ip", "netns", "del", self.ns(who)], capture_output=True)


@pytest.fixture
def topo() -> Iterator[Topology]:
    t = Topology(f"pnt-{secrets.token_hex(3)}")
    try:
        t.build()
        t.serve("a", 8080, 9090, 5353, 7070)
        t.serve("b", 8080, 8081, 9090, 5353)
        yield t
    finally:
        t.teardown()


def ep(who: str, port: int, proto: str = "TCP") -> Endpoint:
    return Endpoint(f"default/{who}", POD_IPS[who], "node-0", port, proto)


def svc(name: str, ip: str, *ports: ServicePort, **kw: object) -> Service:
    return Service("default", name, selector={"app": name}, ports=ports, cluster_ip=ip, **kw)  # type: ignore[arg-type]


def cluster(
    services: tuple[Service, ...], eps: dict[str, dict[str, tuple[Endpoint, ...]]]
) -> ClusterState:
    return ClusterState((), (), (), services, (), eps)


WEB = svc(
    "web", "10.96.0.20", ServicePort(80, "web", name="http"), ServicePort(53, 5353, "UDP", "dns")
)
WEB_EPS: dict[str, tuple[Endpoint, ...]] = {
    "http": (ep("a", 8080), ep("b", 8081)),  # named targetPort, resolved per pod
    "dns": (ep("a", 5353, "UDP"), ep("b", 5353, "UDP")),
}
EMPTY = svc("empty", "10.96.0.21", ServicePort(80, 8080))
SELF = svc("self", "10.96.0.22", ServicePort(80, 9090))
NODEPORT = svc("np", "10.96.0.23", ServicePort(80, 8080, node_port=30080), type="NodePort")
STICKY = svc(
    "sticky",
    "10.96.0.24",
    ServicePort(80, 9090),
    session_affinity="ClientIP",
    session_affinity_timeout=60,
)


def base_state() -> ClusterState:
    return cluster(
        (WEB, EMPTY, SELF, NODEPORT, STICKY),
        {
            "default/web": WEB_EPS,
            "default/self": {"": (ep("a", 9090),)},
            "default/np": {"": (ep("a", 8080), ep("b", 8080))},
            "default/sticky": {"": (ep("a", 9090), ep("b", 9090))},
        },
    )


def test_clusterip_spreads_over_both_endpoints_by_named_port(topo: Topology) -> None:
    ServiceProxy(topo.runner).sync(compile_services(base_state()))
    got = topo.connect("c", "10.96.0.20", 80, count=60)
    assert set(got) == {"a", "b"}
    assert got.count("a") > 10 and got.count("b") > 10
    assert set(topo.connect("c", "10.96.0.20", 53, count=30, proto="udp")) == {"a", "b"}


def test_no_endpoints_and_unknown_port_are_refused_at_once(topo: Topology) -> None:
    ServiceProxy(topo.runner).sync(compile_services(base_state()))
    assert topo.connect("c", "10.96.0.21", 80) == ["refused"]
    assert topo.connect("c", "10.96.0.20", 81) == ["refused"]
    assert topo.connect("c", "10.96.0.20", 54, proto="udp") == ["refused"]
    assert topo.connect("node", "10.96.0.21", 80) == ["refused"]


def test_hairpin_pod_reaches_itself_through_its_service(topo: Topology) -> None:
    ServiceProxy(topo.runner).sync(compile_services(base_state()))
    assert topo.connect("a", "10.96.0.22", 80, count=3) == ["a", "a", "a"]


def test_only_hairpin_traffic_is_masqueraded(topo: Topology) -> None:
    peer = svc("peer", "10.96.0.25", ServicePort(80, 7070))
    st = base_state()
    eps: dict[str, dict[str, tuple[Endpoint, ...]]] = {
        **st.endpoints,
        "default/peer": {"": (ep("a", 7070),)},
    }
    ServiceProxy(topo.runner).sync_cluster(cluster((*st.services, peer), eps))
    assert topo.connect("c", "10.96.0.25", 80) == [POD_IPS["c"]]  # source kept
    assert topo.connect("a", "10.96.0.25", 80) == ["10.244.0.1"]  # hairpin: masqueraded


def test_nodeport_from_pod_and_from_node(topo: Topology) -> None:
    ServiceProxy(topo.runner).sync(compile_services(base_state()))
    assert set(topo.connect("c", NODE_IP, 30080, count=30)) == {"a", "b"}
    assert set(topo.connect("node", NODE_IP, 30080, count=30)) == {"a", "b"}
    assert set(topo.connect("node", "10.96.0.20", 80, count=30)) == {"a", "b"}
    assert topo.connect("c", NODE_IP, 30081) == ["refused"]


def test_endpoint_change_takes_effect_via_diff(topo: Topology) -> None:
    proxy = ServiceProxy(topo.runner)
    proxy.sync(compile_services(base_state()))
    only_b = dict(base_state().endpoints)
    only_b["default/web"] = {"http": (ep("b", 8081),), "dns": WEB_EPS["dns"]}
    only_b["default/empty"] = {"": (ep("b", 8080),)}
    ops = proxy.sync(compile_services(cluster(base_state().services, only_b)))
    assert proxy.full_syncs == 1 and ops < 20
    assert set(topo.connect("c", "10.96.0.20", 80, count=20)) == {"b"}
    assert topo.connect("c", "10.96.0.21", 80) == ["b"]


def test_client_ip_affinity_sticks(topo: Topology) -> None:
    ServiceProxy(topo.runner).sync(compile_services(base_state()))
    got = topo.connect("c", "10.96.0.24", 80, count=20)
    assert len(set(got)) == 1 and got[0] in ("a", "b")


def test_nft_session_applies_partial_syncs_and_classifies_errors(topo: Topology) -> None:
    from podnet.dataplane.nft.session import NftSession
    from podnet.dataplane.nft.transaction import Transaction
    from podnet.errors import NftNotFoundError

    with NftSession(("ip", "netns", "exec", topo.ns("node"))) as session:
        proxy = ServiceProxy(session)
        proxy.sync(compile_services(base_state()))
        only_b = dict(base_state().endpoints)
        only_b["default/web"] = {"http": (ep("b", 8081),), "dns": WEB_EPS["dns"]}
        proxy.sync(compile_services(cluster(base_state().services, only_b)))
        assert proxy.full_syncs == 1
        assert set(topo.connect("c", "10.96.0.20", 80, count=10)) == {"b"}
        bad = Transaction("ip", "podnet-proxy")
        bad.add_element("cluster-ips", "10.96.9.9")
        bad.delete_element("cluster-ips", "10.96.8.8")
        with pytest.raises(NftNotFoundError):
            session.run(bad)
        assert "10.96.9.9" not in topo.runner.list_table("ip", "podnet-proxy")  # atomic
        session.run(Transaction("ip", "podnet-proxy"))
        assert set(topo.connect("c", "10.96.0.20", 80, count=5)) == {"b"}


def test_incremental_endpoint_change_through_handlers_and_session(topo: Topology) -> None:
    """The fast path: update_endpoints + sync_changes over one long-lived ``nft -i``."""
    from podnet.dataplane.nft.session import NftSession

    with NftSession(("ip", "netns", "exec", topo.ns("node"))) as session:
        proxy = ServiceProxy(session)
        proxy.sync_cluster(base_state())
        assert set(topo.connect("c", "10.96.0.23", 80, count=20)) == {"a", "b"}
        proxy.update_endpoints("default/np", "", (ep("b", 8080),))
        assert proxy.sync_changes() == 6  # 2 -> 1 endpoints: be-2 -> be-1, npbe-2 -> npbe-1
        assert set(topo.connect("c", "10.96.0.23", 80, count=10)) == {"b"}
        assert set(topo.connect("c", NODE_IP, 30080, count=10)) == {"b"}
        proxy.update_endpoints("default/np", "", ())
        proxy.update_endpoints("default/empty", "", (ep("a", 8080),))
        proxy.sync_changes()
        assert topo.connect("c", "10.96.0.23", 80) == ["refused"]
        assert topo.connect("c", NODE_IP, 30080) == ["refused"]
        assert topo.connect("c", "10.96.0.21", 80) == ["a"]
        proxy.delete_service("default/empty")
        proxy.sync_changes()
        assert topo.connect("c", "10.96.0.21", 80) == ["TimeoutError"]
        three = (ep("a", 8080), ep("b", 8080), ep("b", 8081))  # a new count: be-3 + rule
        proxy.update_endpoints("default/web", "http", three)
        proxy.sync_changes()
        assert set(topo.connect("c", "10.96.0.20", 80, count=30)) == {"a", "b"}
        proxy.update_endpoints("default/web", "http", (ep("a", 8080),))  # be-3 retired
        proxy.sync_changes()
        assert set(topo.connect("c", "10.96.0.20", 80, count=5)) == {"a"}
        assert "be-3" not in topo.runner.list_table("ip", "podnet-proxy")
        proxy.update_endpoints("default/sticky", "", (ep("b", 9090),))  # affinity, 2 -> 1
        proxy.sync_changes()
        assert topo.connect("c", "10.96.0.24", 80, count=5) == ["b"] * 5
        proxy.update_endpoints("default/sticky", "", (ep("a", 9090), ep("b", 9090)))
        proxy.sync_changes()
        got = topo.connect("c", "10.96.0.24", 80, count=10)  # remembered: sticks to b
        assert got == ["b"] * 10
        assert (proxy.full_syncs, proxy.failed_syncs) == (1, 0)  # all partial syncs
