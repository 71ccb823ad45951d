"""What podnet wants vs what the kernel lists, for every podnet table (nft/drift.py).

The Service proxy, policy and guard tables of a cluster with every feature that shapes
them (ClusterIP and NodePort Services, ClientIP affinity, named ports, ipBlocks with
excepts, the Admin and Baseline tiers) are applied to a real node netns; each table's
``nft -j`` listing must agree with the full transaction it came from (else the periodic
check would report a repair and resync every ``sync_period`` for nothing), and each
kind of edit someone else could make must be named.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paths import REPO
from support.sandbox import Driver, driver_argv, driver_env, require_kernel

from podnet.control.cluster import build_cluster
from podnet.control.endpoints import compute_endpoints
from podnet.dataplane.guard.table import guard_states
from podnet.dataplane.nft import drift
from podnet.dataplane.nft.objects import full_transaction
from podnet.dataplane.nft.transaction import ExecNftRunner, Transaction
from podnet.dataplane.policy.compile import policy_states
from podnet.dataplane.proxy.services import compile_services
from podnet.dataplane.proxy.sync import full_transaction as proxy_transaction
from podnet.manifests import load_paths
from podnet.model.cluster import ClusterState

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft"
    ),
]

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers:
  - name: c
    image: nginx
    ports: [{containerPort: 80, name: http}, {containerPort: 53, protocol: UDP, name: dns}]
---
apiVersion: v1
kind: Pod
metadata: {name: web2, namespace: shop, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: c, image: nginx, ports: [{containerPort: 80, name: http}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: dns, port: 53, protocol: UDP, targetPort: dns}
---
apiVersion: v1
kind: Service
metadata: {name: web-np, namespace: shop}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 8080, targetPort: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.96.0.0/12]}
    ports: [{port: http}, {port: 53, protocol: UDP}]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: shop}}}]
"""


def cluster(tmp: Path) -> ClusterState:
    path = tmp / "cluster.yaml"
    path.write_text(MANIFEST)
    tiers = REPO / "examples" / "cluster-policies"
    files = [str(path), str(tiers / "admin-policies.yaml"), str(tiers / "app.yaml")]
    state = build_cluster(load_paths(files), 2)
    ready = {p.key: True for p in state.pods}
    eps = compute_endpoints(state.services, state.pods, ready)
    return ClusterState(
        state.nodes,
        state.namespaces,
        state.pods,
        state.services,
        state.policies,
        eps,
        cluster_policies=state.cluster_policies,
    )


@pytest.fixture(scope="module")
def node() -> Iterator[list[str]]:
    """An nsenter prefix into a fresh node netns (a real sandbox node, no pods)."""
    require_kernel()
    d = Driver(driver_argv(), driver_env())
    try:
        d.ok(op="nodes", n=1)
        yield ["nsenter", f"--net=/proc/{d.ok(op='pids')['pids']['node/node-0']}/ns/net"]
    finally:
        d.call(op="close")
        d.kill()


def wanted(tmp: Path) -> dict[str, Transaction]:
    """Each podnet table of node-0 as its full transaction."""
    state = cluster(tmp)
    return {
        "ip podnet-proxy": proxy_transaction(compile_services(state)),
        "inet podnet-policy": full_transaction(policy_states(state, ["node-0"])["node-0"].table),
        "inet podnet-guard": full_transaction(guard_states(state)["node-0"].table),
    }


def listed(node: list[str], table: str) -> drift.Shape | None:
    proc = subprocess.run(
        [*node, "nft", "-s", "-j", "list", "table", *table.split()], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None
    family, name = table.split()
    return drift.shape_of_listing(json.loads(proc.stdout)["nftables"], family, name)


def nft(node: list[str], *argv: str) -> None:
    subprocess.run([*node, "nft", *argv], check=True, capture_output=True)


def test_every_table_as_applied_agrees_with_what_podnet_wants(
    node: list[str], tmp_path: Path
) -> None:
    for table, tx in wanted(tmp_path).items():
        ExecNftRunner(tuple(node)).run(tx)
        want = drift.shape_of_transaction(tx)
        assert sum(1 for v in want.sets.values() if v) > 0 or table == "inet podnet-guard"
        assert drift.compare(want, listed(node, table)) is None, table


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            [
                "add",
                "element",
                "inet",
                "podnet-guard",
                "pod-sources",
                '{ "pn00000000" . 10.244.0.9 }',
            ],
            "set pod-sources has 1 element(s) podnet did not add and lacks 0",
        ),
        (["flush", "set", "inet", "podnet-guard", "pod-sources"], "has 0 element(s) podnet did"),
        (["flush", "chain", "inet", "podnet-guard", "prerouting"], "chain prerouting has 0 rules"),
        (["delete", "table", "inet", "podnet-guard"], "is missing"),
        (["insert", "rule", "inet", "podnet-policy", "egress", "accept"], "chain egress has 5"),
        (["add", "chain", "inet", "podnet-policy", "mine"], "has a chain mine"),
        (["flush", "map", "inet", "podnet-policy", "ingress-pods"], "set ingress-pods"),
        (["flush", "map", "ip", "podnet-proxy", "service-ips"], "set service-ips"),
    ],
)
def test_each_edit_by_someone_else_is_named(
    node: list[str], tmp_path: Path, edit: list[str], says: str
) -> None:
    tables = wanted(tmp_path)
    for tx in tables.values():
        ExecNftRunner(tuple(node)).run(tx)
    table = " ".join(edit[2:4])
    assert drift.compare(drift.shape_of_transaction(tables[table]), listed(node, table)) is None
    nft(node, *edit)
    problem = drift.compare(drift.shape_of_transaction(tables[table]), listed(node, table))
    assert problem is not None and says in problem, problem
