"""A pod forging a peer's source address cannot get past a NetworkPolicy (issue 11).

Real sandbox (``podnet.dataplane.sandbox.driver``: nodes, pods, veths named as in
``podnet run``), the real policy and guard tables applied to each node netns with
``nsenter``. The NetworkPolicy admits ``peer`` to the ``web`` pods and so denies
``attacker``. The attacker sends as the peer two ways: with the peer's address added
to its own ``eth0`` (pods lose NET_ADMIN under issue 11's runtime: the test plays an
attacker who has it) and an ordinary UDP socket bound to it, and with a raw socket
(NET_RAW stays in the default set, as in Kubernetes) carrying a hand-made TCP SYN.
A sniffer on the ``web`` pod's ``eth0`` says what arrived: what got past every table.
The same attempts without the guard table arrive, so the test sees a spoof when there
is one. One server on the attacker's node, one on the other node.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.sandbox import Driver, driver_argv, driver_env, require_kernel

from podnet.dataplane.guard.sync import GuardProxy
from podnet.dataplane.guard.table import FAMILY, TABLE, guard_states
from podnet.dataplane.nft.objects import delete_transaction
from podnet.dataplane.nft.transaction import ExecNftRunner
from podnet.dataplane.policy.compile import policy_states
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.sandbox.driver import make_nodes
from podnet.model.cluster import ClusterState
from podnet.model.objects import Container, Namespace, NetworkPolicy, Pod, PolicyPeer, PolicyRule
from podnet.model.selectors import LabelSelector

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft"
    ),
]

UDP_PORT, TCP_PORT = 9999, 80
IPS = {"peer": "10.244.0.2", "attacker": "10.244.0.3", "web0": "10.244.0.4", "web1": "10.244.1.2"}
NODES = {"peer": "node-0", "attacker": "node-0", "web0": "node-0", "web1": "node-1"}
LABELS = {"peer": "peer", "attacker": "attacker", "web0": "web", "web1": "web"}

# In the web pod's netns: every IPv4 UDP datagram to UDP_PORT and TCP SYN to TCP_PORT
# arriving on eth0, as one JSON line (source, tag: the payload or the sequence number).
SNIFFER = r"""
import json, socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth0", 0))
print("ready", flush=True)
while True:
    frame, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    ip = frame[14:]
    ihl, proto = (ip[0] & 15) * 4, ip[9]
    src = socket.inet_ntoa(ip[12:16])
    l4 = ip[ihl:]
    sport, dport = struct.unpack("!HH", l4[:4])
    if proto == 17 and dport == @UDP@:
        print(json.dumps([src, l4[8:].decode()]), flush=True)
    elif proto == 6 and dport == @TCP@ and l4[13] & 0x12 == 0x02:
        print(json.dumps([src, str(struct.unpack("!I", l4[4:8])[0])]), flush=True)
""".replace("@UDP@", str(UDP_PORT)).replace("@TCP@", str(TCP_PORT))

# In the sender's netns: "udp SRC DST TAG" (a kernel socket bound to SRC, which must be
# one of the pod's addresses) or "syn SRC DST TAG" (a raw IPv4 packet, any SRC).
SENDER = r"""
import socket, struct, sys
mode, src, dst, tag = sys.argv[1:5]
if mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(tag.encode(), (dst, @UDP@))
else:
    def csum(b):
        b += b"\0" * (len(b) % 2)
        t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        t = (t >> 16) + (t & 0xFFFF)
        t += t >> 16
        return ~t & 0xFFFF
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", 40000, @TCP@, int(tag), 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(s + d + struct.pack("!BBH", 0, 6, 20) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    r.sendto(ip + tcp, (dst, 0))
""".replace("@UDP@", str(UDP_PORT)).replace("@TCP@", str(TCP_PORT))


def _pods() -> tuple[Pod, ...]:
    return tuple(
        Pod(
            "default",
            who,
            {"app": LABELS[who]},
            (Container("c", "x"),),
            ip=IPS[who],
            node=NODES[who],
        )
        for who in IPS
    )


WEB_FROM_PEER = NetworkPolicy(
    "default",
    "web-from-peer",
    LabelSelector.from_labels({"app": "web"}),
    ("Ingress",),
    ingress=(
        PolicyRule(peers=(PolicyPeer(pod_selector=LabelSelector.from_labels({"app": "peer"})),)),
    ),
)
STATE = ClusterState(
    tuple(make_nodes(2)),
    (Namespace("default", {"kubernetes.io/metadata.name": "default"}),),
    _pods(),
    (),
    (WEB_FROM_PEER,),
)


@dataclass
class Cluster:
    driver: Driver
    pids: dict[str, int]  # "node/node-0", "pod/default/peer" -> holder pid

    def netns(self, what: str) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.pids[what]}/ns/net"]

    def runner(self, node: str) -> ExecNftRunner:
        return ExecNftRunner(tuple(self.netns(f"node/{node}")))

    def in_pod(self, who: str, *argv: str) -> None:
        subprocess.run([*self.netns(f"pod/default/{who}"), *argv], check=True, timeout=10)

    def send(self, who: str, mode: str, src: str, dst: str, tag: int) -> None:
        self.in_pod(who, sys.executable, "-c", SENDER, mode, src, dst, str(tag))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require_kernel()
    d = Driver(driver_argv(), driver_env())
    try:
        d.ok(op="nodes", n=2)
        pods = [{"namespace": "default", "name": w, "node": NODES[w], "ip": IPS[w]} for w in IPS]
        d.ok(op="pods", pods=pods)
        c = Cluster(d, d.ok(op="pids")["pids"])
        for node, ps in policy_states(STATE, ["node-0", "node-1"]).items():
            PolicyProxy(c.runner(node)).sync(ps)
        yield c
    finally:
        d.call(op="close")
        d.kill()


@pytest.fixture(scope="module")
def sniffers(cluster: Cluster) -> Iterator[dict[str, subprocess.Popen[str]]]:
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for web in ("web0", "web1"):
            argv = [*cluster.netns(f"pod/default/{web}"), sys.executable, "-c", SNIFFER]
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            procs[web] = proc
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()
            with proc:
                pass


def arrived(sniffer: subprocess.Popen[str], quiet: float = 0.5) -> set[tuple[str, str]]:
    """(source, tag) of what reached the sniffer until ``quiet`` seconds pass without."""
    assert sniffer.stdout is not None
    fd = sniffer.stdout.fileno()  # read unbuffered: select() cannot see a text buffer
    data = b""
    while select.select([fd], [], [], quiet)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return {(src, tag) for src, tag in map(json.loads, data.decode().splitlines())}


def attempts(cluster: Cluster, web: str, base: int) -> dict[str, tuple[str, str]]:
    """Send every kind of packet to ``web``; name -> the (source, tag) it would arrive as."""
    dst, peer, me = IPS[web], IPS["peer"], IPS["attacker"]
    plan = {
        "peer-udp": ("peer", "udp", peer),
        "peer-syn": ("peer", "syn", peer),
        "attacker-udp": ("attacker", "udp", me),
        "attacker-syn": ("attacker", "syn", me),
        "spoofed-udp": ("attacker", "udp", peer),  # the peer's address on its own eth0
        "spoofed-syn": ("attacker", "syn", peer),  # a raw socket: no address needed
        "forged-outside-syn": ("attacker", "syn", "192.0.2.7"),
    }
    out = {}
    for i, (name, (who, mode, src)) in enumerate(plan.items()):
        tag = base + i
        cluster.send(who, mode, src, dst, tag)
        out[name] = (src, str(tag))
    return out


@pytest.fixture(scope="module")
def spoofing_attacker(cluster: Cluster) -> Iterator[None]:
    """The attacker holds the peer's address too (NET_ADMIN, as the issue's escape)."""
    cluster.in_pod("attacker", "ip", "addr", "add", f"{IPS['peer']}/32", "dev", "eth0")
    yield
    cluster.in_pod("attacker", "ip", "addr", "del", f"{IPS['peer']}/32", "dev", "eth0")


@pytest.mark.parametrize("web", ["web0", "web1"])
def test_a_forged_source_does_not_get_past_the_policy(
    cluster: Cluster, sniffers: dict[str, subprocess.Popen[str]], spoofing_attacker: None, web: str
) -> None:
    guards = {n: GuardProxy(cluster.runner(n)) for n in ("node-0", "node-1")}
    for node, gs in guard_states(STATE).items():
        guards[node].sync(gs)
    arrived(sniffers[web], 0.1)  # nothing left from before
    sent = attempts(cluster, web, 1000 + secrets.randbelow(10**6) * 10)
    got = arrived(sniffers[web])
    passed = {name for name, key in sent.items() if key in got}
    assert passed == {"peer-udp", "peer-syn"}, (passed, got)


@pytest.mark.parametrize("web", ["web0", "web1"])
def test_without_the_guard_the_same_forgery_gets_through(
    cluster: Cluster, sniffers: dict[str, subprocess.Popen[str]], spoofing_attacker: None, web: str
) -> None:
    """The control: the attack is real, so the test above would see it succeed."""
    for node in ("node-0", "node-1"):
        cluster.runner(node).run(delete_transaction(FAMILY, TABLE))
    try:
        arrived(sniffers[web], 0.1)
        sent = attempts(cluster, web, 2000 + secrets.randbelow(10**6) * 10)
        got = arrived(sniffers[web])
        passed = {name for name, key in sent.items() if key in got}
        # (a source from outside the cluster is still denied: the policy admits no ipBlock)
        assert passed == {"peer-udp", "peer-syn", "spoofed-udp", "spoofed-syn"}, (passed, got)
    finally:
        for node, gs in guard_states(STATE).items():
            GuardProxy(cluster.runner(node)).sync(gs)


def test_the_guard_drops_ipv6_from_pods_and_counts_it(cluster: Cluster) -> None:
    """The cluster is IPv4 only: a pod's IPv6 (here a link-local ping to its node)
    is dropped at the node, and the guard's drop counter shows it."""
    for node, gs in guard_states(STATE).items():
        GuardProxy(cluster.runner(node)).sync(gs)

    def dropped() -> int:
        out = subprocess.run(
            [
                *cluster.netns("node/node-0"),
                "nft",
                "-j",
                "list",
                "chain",
                FAMILY,
                TABLE,
                "prerouting",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rules = [o["rule"] for o in json.loads(out)["nftables"] if "rule" in o]
        counters = [e["counter"] for r in rules for e in r["expr"] if "counter" in e]
        return int(counters[-1]["packets"])

    before = dropped()
    send6 = "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); "
    send6 += "[s.sendto(b'x', ('ff02::1', 9, 0, socket.if_nametoindex('eth0'))) for _ in range(3)]"
    cluster.in_pod("attacker", sys.executable, "-c", send6)
    assert dropped() >= before + 3
