"""The drop hint's parts: SYN_SENT sockets from /proc text, the engine's words on why a
connection is dropped, and the deny chains' counters from ``nft -j``."""

from __future__ import annotations

import json
import socket
import struct

from podnet.control.cluster import build_cluster
from podnet.live.runout.counters import parse_counters
from podnet.live.runout.hint import DropExplainer, parse_sockets
from podnet.manifests import from_documents, parse_text

CLUSTER = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: open, labels: {app: open}}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [wget, -qO-, 'http://web']}]
"""


def _hex(ip: str, port: int) -> str:
    """An address as /proc/net/tcp prints it: host-order hex."""
    return f"{struct.unpack('=I', socket.inet_aton(ip))[0]:08X}:{port:04X}"


def test_parse_sockets_keeps_connecting_tcp_and_connected_udp() -> None:
    head = "  sl  local_address rem_address   st tx_queue rx_queue ..."
    tcp = [
        f"   0: {_hex('10.244.0.2', 40000)} {_hex('10.96.0.11', 80)} 02 00000000:00000000",
        f"   1: {_hex('10.244.0.2', 40001)} {_hex('10.96.0.12', 80)} 01 00000000:00000000",
        f"   2: {_hex('0.0.0.0', 80)} {_hex('0.0.0.0', 0)} 0A 00000000:00000000",
    ]
    assert parse_sockets("\n".join([head, *tcp]), "TCP") == [("10.96.0.11", 80, "TCP")]
    udp = [
        f" 8410: {_hex('10.244.0.2', 57699)} {_hex('10.96.0.10', 53)} 01 00000000:00000000",
        f" 8411: {_hex('0.0.0.0', 53)} {_hex('0.0.0.0', 0)} 07 00000000:00000000",
    ]
    assert parse_sockets("\n".join([head, *udp]), "UDP") == [("10.96.0.10", 53, "UDP")]


def _explainer() -> DropExplainer:
    state = build_cluster(from_documents(parse_text(CLUSTER, "c.yaml")), nodes=1)
    return DropExplainer(state)


def test_a_denied_service_connection_names_the_policy() -> None:
    explainer = _explainer()
    svc_ip = explainer.tracer.svc_by_ip
    ip = next(ip for ip, s in svc_ip.items() if s.key == "default/web")
    d = explainer.dropped("default/client", ip, 80)
    assert d is not None
    assert d.target == "Service default/web"
    assert "default/deny-web" in d.reason and not d.reason.startswith("denied")
    msg = d.message(6.2)
    assert msg.startswith("default/client: no output for 6s; its connection to Service ")
    assert "--deny reject" in msg


def test_an_allowed_or_unknown_address_is_no_drop() -> None:
    explainer = _explainer()
    open_pod = explainer.tracer.state.pod("default/open")
    assert open_pod is not None and open_pod.ip is not None
    assert explainer.dropped("default/client", open_pod.ip, 80) is None
    assert explainer.dropped("default/client", "10.96.0.250", 80) is None  # no Service there


def test_a_dropped_dns_lookup_names_the_egress_policy() -> None:
    egress = CLUSTER.replace(
        "metadata: {name: client}", "metadata: {name: client, labels: {app: client}}"
    ) + (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: no-egress}\nspec:\n  podSelector: {matchLabels: {app: client}}\n"
        "  policyTypes: [Egress]\n"
    )
    state = build_cluster(from_documents(parse_text(egress, "c.yaml")), nodes=1)
    dns = state.service("kube-system/kube-dns")
    assert dns is not None and dns.cluster_ip is not None
    d = DropExplainer(state).dropped("default/client", dns.cluster_ip, 53, "UDP")
    assert d is not None and d.target == "Service kube-system/kube-dns"
    assert "egress" in d.reason and "default/no-egress" in d.reason, d.reason
    assert f"({dns.cluster_ip}:53/UDP)" in d.message(5.0)


def test_parse_counters_sums_every_rule_of_the_chain() -> None:
    listing = {
        "nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"chain": {"family": "inet", "table": "podnet-policy", "name": "deny"}},
            {"rule": {"expr": [{"counter": {"packets": 5, "bytes": 300}}, {"drop": None}]}},
            {
                "rule": {
                    "expr": [
                        {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}}},
                        {"counter": {"packets": 2, "bytes": 120}},
                        {"reject": {"type": "tcp reset"}},
                    ]
                }
            },
        ]
    }
    assert parse_counters(json.dumps(listing)) == 7
