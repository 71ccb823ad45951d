"""Kernel tests of the policy table's denied-connection counts (issue 15): the deny
chain's ``denied`` set counts connections per (source, destination, protocol, port),
a SYN's retransmissions once, on the node whose table denied them, read back the way
``podnet run``'s closing summary reads them; and the table's listing, without those
elements, is what the drift checks expect (packets do not look like someone's edit).

Two nodes, pods on both, the Service proxy loaded (a ClusterIP is counted as its
endpoint: the policy judges after DNAT). Teardown is guaranteed by the fixture.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.policy_topology import PodSpec, PolTopology

from podnet.dataplane.nft import drift
from podnet.dataplane.policy.compile import policy_states
from podnet.dataplane.policy.sync import PolicyProxy, full_transaction
from podnet.dataplane.proxy.services import compile_services
from podnet.dataplane.proxy.sync import full_sync
from podnet.live.runout.counters import Denied, Flow, deny_counters
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Container, Namespace, NetworkPolicy, Pod, Service, ServicePort
from podnet.model.selectors import EMPTY

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft"
    ),
]

SPECS = {
    "web": PodSpec("web", 0, "10.244.0.2", tcp=(8080,), udp=(5353,)),
    "c": PodSpec("c", 0, "10.244.0.3"),
    "d": PodSpec("d", 1, "10.244.1.2"),
}
IP = {k: s.ip for k, s in SPECS.items()}
VIP = "10.96.0.20"
PODS = tuple(
    Pod(
        "prod" if k == "web" else "dev",
        k,
        {"app": k},
        (Container("c", "x"),),
        ip=s.ip,
        node=f"node-{s.node}",
    )
    for k, s in SPECS.items()
)
NAMESPACES = tuple(Namespace(n, {"kubernetes.io/metadata.name": n}) for n in ("prod", "dev"))
SERVICES = (
    Service("prod", "web", selector={"app": "web"}, ports=(ServicePort(80, 8080),), cluster_ip=VIP),
)
ENDPOINTS: dict[str, dict[str, tuple[Endpoint, ...]]] = {
    "prod/web": {"": (Endpoint("prod/web", IP["web"], "node-0", 8080, "TCP"),)}
}
DENY_INGRESS = NetworkPolicy("prod", "deny-ingress", EMPTY, ("Ingress",))

# Each connection gets its own socket (its own source port); waits ``timeout`` seconds.
CLIENT = r"""
import json, socket, sys, threading
probes, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
def probe(host, port, proto):
    try:
        if proto == "tcp":
            socket.create_connection((host, port), timeout=timeout).close()
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
            s.connect((host, port)); s.send(b"hi"); s.recv(10); s.close()
    except OSError:
        pass
ts = [threading.Thread(target=probe, args=p) for p in probes]
for t in ts: t.start()
for t in ts: t.join()
"""


class Live:
    def __init__(self, topo: PolTopology) -> None:
        self.topo = topo
        self.proxies = [PolicyProxy(topo.runner(i)) for i in range(2)]

    def apply(self, deny: str, *policies: NetworkPolicy) -> None:
        """A full sync on both nodes: fresh tables, so fresh counts."""
        state = ClusterState((), NAMESPACES, PODS, SERVICES, policies, ENDPOINTS)
        for i, proxy in enumerate(self.proxies):
            proxy.syncer.forget()
            proxy.sync(policy_states(state, ["node-0", "node-1"], deny)[f"node-{i}"])

    def connect(self, who: str, probes: list[tuple[str, int, str]], timeout: float) -> None:
        argv = ["ip", "netns", "exec", self.topo.ns(who), sys.executable, "-c", CLIENT]
        subprocess.run([*argv, json.dumps(probes), str(timeout)], check=True, timeout=30)

    def node_argv(self, node: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.topo.node_ns(int(node[-1])), *argv]

    def denied(self) -> Denied:
        got = deny_counters(self.node_argv, ["node-0", "node-1"])
        assert got is not None
        return got

    def listing(self, *flags: str) -> str:
        argv = self.node_argv("node-0", ["nft", "-s", *flags, "list", "table"])
        return subprocess.run(
            [*argv, "inet", "podnet-policy"], capture_output=True, text=True, check=True
        ).stdout


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    topo = PolTopology(f"pnd-{secrets.token_hex(3)}", SPECS)
    try:
        topo.build()
        state = ClusterState((), NAMESPACES, PODS, SERVICES, (), ENDPOINTS)
        for i in range(2):
            full_sync(topo.runner(i), compile_services(state))
        yield Live(topo)
    finally:
        topo.teardown()


def test_drop_counts_connections_not_retransmissions(live: Live) -> None:
    live.apply("drop", DENY_INGRESS)
    # 3.5 s: Linux sends the SYN at 0, 1 and 3 s, so each connection is 3 packets
    tcp = [(IP["web"], 8080, "tcp"), (IP["web"], 8080, "tcp"), (VIP, 80, "tcp")]
    live.connect("c", [*tcp, (IP["web"], 5353, "udp")], 3.5)
    live.connect("d", [(IP["web"], 8080, "tcp")], 1.5)  # across nodes: node-0's ingress
    got = live.denied()
    assert got.connections == {
        Flow(IP["c"], IP["web"], "tcp", 8080): 3,  # two direct, one through the ClusterIP
        Flow(IP["c"], IP["web"], "udp", 5353): 1,
        Flow(IP["d"], IP["web"], "tcp", 8080): 1,
    }
    # the packet counter counts every SYN: at least 3 for each of c's TCP connections
    assert got.packets["node-0"] >= 3 * 3 + 1 + 2, got.packets
    assert got.packets["node-1"] == 0


def test_allowed_traffic_is_not_counted(live: Live) -> None:
    live.apply("drop")  # no policy: nothing is denied
    live.connect("c", [(IP["web"], 8080, "tcp"), (IP["web"], 5353, "udp")], 1.0)
    assert live.denied() == Denied({"node-0": 0, "node-1": 0}, {})


def test_reject_counts_each_connection_once(live: Live) -> None:
    live.apply("reject", DENY_INGRESS)
    live.connect("c", [(IP["web"], 8080, "tcp")] * 4, 2.0)
    got = live.denied()
    assert got.connections == {Flow(IP["c"], IP["web"], "tcp", 8080): 4}
    assert got.packets["node-0"] == 4  # a reset at once: no retransmission


def test_denials_do_not_look_like_drift(live: Live) -> None:
    """What packets add is left out of what the drift checks compare and hash."""
    live.apply("drop", DENY_INGRESS)
    before = drift.static_listing(live.listing())
    live.connect("d", [(IP["web"], 8080, "tcp"), (IP["web"], 5353, "udp")], 1.5)
    text = live.listing()
    assert "10.244.1.2 . 10.244.0.2 . tcp . 8080" in text  # the kernel filled the set
    assert drift.static_listing(text) == before
    want = live.proxies[0].applied
    assert want is not None
    objects = json.loads(live.listing("-j"))["nftables"]
    got = drift.shape_of_listing(objects, "inet", "podnet-policy")
    assert drift.compare(drift.shape_of_transaction(full_transaction(want)), got) is None
