"""A scratch two-node topology for the policy kernel tests (helpers only, no tests).

Two "node" netns joined by a veth pair (172.18.0.2 / 172.18.0.3, each routing the
other's pod /24 via its address), pods behind veths with /32 addresses, routed the way
podnet.dataplane.sandbox.links does it (node side answers as 10.244.<i>.1). Every name is
``pnp-<hex>-...``; :meth:`PolTopology.teardown` kills the servers it started (by pid)
and deletes exactly the namespaces it created. Nothing touches the host's namespace.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field

from podnet.dataplane.nft.transaction import ExecNftRunner

SERVER = r"""
import socket, sys, threading
name, tcp_ports, udp_ports = sys.argv[1], sys.argv[2], sys.argv[3]
def serve_tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(name.encode()); c.close()
def serve_udp(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", port))
    while True:
        _, peer = u.recvfrom(100); u.sendto(name.encode(), peer)
for p in filter(None, tcp_ports.split(",")):
    threading.Thread(target=serve_tcp, args=(int(p),), daemon=True).start()
for p in filter(None, udp_ports.split(",")):
    threading.Thread(target=serve_udp, args=(int(p),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

# Probes run concurrently (a dropped one costs its whole 1 s timeout); results in order.
CLIENT = r"""
import errno, json, socket, sys, threading
probes = json.loads(sys.argv[1])
out = [None] * len(probes)
def probe(i, host, port, proto):
    try:
        if proto == "tcp":
            s = socket.create_connection((host, port), timeout=1)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
            s.connect((host, port)); s.send(b"hi")
        out[i] = "ok:" + s.recv(100).decode(); s.close()
    except ConnectionRefusedError:
        out[i] = "refused"
    except socket.timeout:
        out[i] = "timeout"
    except OSError as e:
        out[i] = "unreachable" if e.errno == errno.EHOSTUNREACH else type(e).__name__
ts = [threading.Thread(target=probe, args=(i, *p)) for i, p in enumerate(probes)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(out))
"""


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@dataclass(frozen=True)
class PodSpec:
    name: str  # netns suffix and server reply
    node: int
    ip: str
    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()


@dataclass
class PolTopology:
    prefix: str
    pods: dict[str, PodSpec]
    nodes: int = 2
    servers: list[subprocess.Popen[str]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def ns(self, who: str) -> str:
        return f"{self.prefix}-{who}"

    def node_ns(self, i: int) -> str:
        return self.ns(f"n{i}")

    def runner(self, i: int) -> ExecNftRunner:
        return ExecNftRunner(("ip", "netns", "exec", self.node_ns(i)))

    def _netns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.created.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def build(self) -> None:
        for i in range(self.nodes):
            self._netns(self.node_ns(i))
            sh("ip", "netns", "exec", self.node_ns(i), "sysctl", "-qw", "net.ipv4.ip_forward=1")
        a, b = self.node_ns(0), self.node_ns(1)
        sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "eth0", "netns", b)
        for i, ns in enumerate((a, b)):
            sh("ip", "-n", ns, "addr", "add", f"172.18.0.{i + 2}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            other = 1 - i
            sh(
                "ip",
                "-n",
                ns,
                "route",
                "add",
                f"10.244.{other}.0/24",
                "via",
                f"172.18.0.{other + 2}",
            )
        for spec in self.pods.values():
            self._pod(spec)

    def _pod(self, spec: PodSpec) -> None:
        node, pod, veth, gw = (
            self.node_ns(spec.node),
            self.ns(spec.name),
            f"v{spec.name}",
            f"10.244.{spec.node}.1",
        )
        self._netns(pod)
        sh("ip", "-n", node, "link", "add", veth, "type", "veth", "peer", "eth0", "netns", pod)
        sh("ip", "-n", node, "addr", "add", f"{gw}/32", "dev", veth)
        sh("ip", "-n", node, "link", "set", veth, "up")
        sh("ip", "-n", node, "route", "add", f"{spec.ip}/32", "dev", veth)
        sh("ip", "-n", pod, "addr", "add", f"{spec.ip}/32", "dev", "eth0")
        sh("ip", "-n", pod, "link", "set", "eth0", "up")
        sh("ip", "-n", pod, "route", "add", gw, "dev", "eth0")
        sh("ip", "-n", pod, "route", "add", "default", "via", gw)
        if spec.tcp or spec.udp:
            argv = ["ip", "netns", "exec", pod, sys.executable, "-c", SERVER, spec.name]
            ports = [",".join(map(str, spec.tcp)), ",".join(map(str, spec.udp))]
            proc = subprocess.Popen([*argv, *ports], stdout=subprocess.PIPE, text=True)
            self.servers.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    def probe(self, who: str, probes: list[tuple[str, int, str]]) -> list[str]:
        """Connect from pod ``who`` to each (host, port, tcp|udp) at once, 1 s timeout."""
        argv = ["ip", "netns", "exec", self.ns(who), sys.executable, "-c", CLIENT]
        out = subprocess.run(
            [*argv, json.dumps(probes)], capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        result: list[str] = json.loads(out.stdout)
        return result

    def teardown(self) -> None:
        for proc in self.servers:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
