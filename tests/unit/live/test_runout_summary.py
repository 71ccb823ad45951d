"""``podnet run``'s opening and closing tables and the client/server split (pure)."""

from __future__ import annotations

import pytest

from podnet.control.cluster import build_cluster
from podnet.live.runout.counters import Denied, Flow
from podnet.live.runout.summary import (
    CLIENT,
    SERVER,
    PodResult,
    closing,
    image_group,
    opening,
    roles,
)
from podnet.manifests import from_documents, parse_text
from podnet.model.cluster import ClusterState

SEED = """\
apiVersion: v1
kind: Pod
metadata: {name: pod-a, labels: {app: client}}
spec:
  containers: [{name: client, image: busybox, command: [sh, -c, 'wget -qO- http://my-service']}]
---
apiVersion: v1
kind: Pod
metadata: {name: pod-b, labels: {app: my-app}}
spec:
  containers: [{name: server, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: my-service}
spec:
  selector: {app: my-app}
  ports: [{protocol: TCP, port: 80, targetPort: 80}]
"""

POLICY = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-b}
spec:
  podSelector: {matchLabels: {app: my-app}}
  policyTypes: [Ingress]
"""

ONE_SHOT_SERVER = """\
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [nc, -l, -p, '9000'],
                ports: [{containerPort: 9000}]}]
"""


def _state(text: str, nodes: int = 1) -> ClusterState:
    return build_cluster(from_documents(parse_text(text, "t.yaml")), nodes=nodes)


def test_roles_servers_are_pods_that_serve_and_restart() -> None:
    got = roles(_state(SEED + ONE_SHOT_SERVER))
    assert got["default/pod-a"] == CLIENT  # serves no port: run waits for it
    assert got["default/pod-b"] == SERVER  # nginx serves 80
    assert got["default/once"] == CLIENT  # serves a port but runs to completion
    assert got["kube-system/coredns-0"] == SERVER


def test_image_group_is_the_short_image_name() -> None:
    state = _state(SEED)
    pod = state.pod("default/pod-b")
    assert pod is not None and image_group(pod) == "nginx"


def test_opening_lists_pods_services_and_no_policy() -> None:
    lines = opening(_state(SEED), "drop")
    text = "\n".join(lines)
    assert lines[0].split() == ["POD", "IP", "NODE", "ROLE"]
    row = next(ln for ln in lines if ln.startswith("default/pod-a "))
    assert row.split()[1:] == ["10.244.0.2", "node-0", "client"]
    svc = next(ln for ln in lines if ln.startswith("default/my-service "))
    assert svc.split()[1:] == ["ClusterIP", "10.96.0.11", "80/TCP"]
    assert "default/kubernetes" not in text  # no API server under podnet run
    assert lines[-1] == "no NetworkPolicy: every pod may reach every other"


@pytest.mark.parametrize(
    ("deny", "word"), [("drop", "dropped (the client times out)"), ("reject", "rejected")]
)
def test_opening_lists_policies_and_the_deny_mode(deny: str, word: str) -> None:
    lines = opening(_state(SEED + POLICY), deny)
    row = next(ln for ln in lines if ln.startswith("default/deny-b "))
    assert row.split()[1:] == ["app=my-app", "Ingress", "1"]
    assert lines[-1].startswith(f"denied connections are {word}")
    assert lines[-1].endswith(f"--deny {deny}")


def test_opening_groups_pods_by_workload_past_max_rows() -> None:
    web = """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 30
  selector: {matchLabels: {app: my-app}}
  template:
    metadata: {labels: {app: my-app}}
    spec:
      containers: [{name: server, image: nginx}]
"""
    text = SEED + web
    state = _state(text, nodes=2)
    lines = opening(state, "drop", max_rows=20)
    assert lines[0].split() == ["WORKLOAD", "PODS", "IPS", "NODES", "ROLE"]
    web = next(ln for ln in lines if ln.startswith("default/Deployment/web "))
    assert web.split()[1] == "30"
    assert "(30)" in web and "node-0..node-1 (2)" in web
    assert lines[1:4] == [ln for ln in lines if ln.startswith(("default/Pod/", "default/D"))]


def _result(key: str, role: str, code: int | None, restarts: int = 0) -> PodResult:
    phase = "Running" if code is None else ("Succeeded" if code == 0 else "Failed")
    return PodResult(key, role, phase, {"c": code}, restarts)


def test_closing_lists_clients_servers_hidden_and_denied() -> None:
    results = [
        _result("default/a", CLIENT, 0),
        _result("default/b", CLIENT, None),
        _result("default/web", SERVER, None, restarts=2),
    ]
    flows = {Flow("10.244.0.2", "10.244.0.3", "tcp", 80): 2}
    denied = Denied({"node-0": 8, "node-1": 0}, flows)
    pods = {"10.244.0.2": "default/a", "10.244.0.3": "default/web"}
    lines = closing(results, {"nginx": (1, 325)}, denied, ["x -> y"], pods=pods)
    assert lines[0].split() == ["CLIENT", "STATUS", "EXIT", "RESTARTS"]
    assert lines[1].split() == ["default/a", "Succeeded", "0", "0"]
    assert lines[2].split() == ["default/b", "Running", "-", "0"]
    assert "1 server pod(s); default/web restarted 2x" in lines
    assert "nginx pods (1): 325 line(s) hidden, --logs all or --follow POD to show" in lines
    at = lines.index("denied by policy: 8 packet(s) (node-0 8), 2 connection(s)")
    assert lines[at + 1].split() == ["DENIED", "FROM", "TO", "PORT", "CONNECTIONS"]
    assert lines[at + 2].split() == ["default/a", "default/web", "(10.244.0.3)", "80/TCP", "2"]
    assert lines[-1] == "stuck on a dropped connection: x -> y"


def test_closing_names_each_container_of_a_multi_container_pod() -> None:
    r = PodResult("default/p", CLIENT, "Failed", {"a": 0, "b": 3}, 1)
    assert closing([r], {}, None)[1].split() == ["default/p", "Failed", "a=0,b=3", "1"]


def test_closing_counts_clean_clients_past_max_rows() -> None:
    results = [_result(f"default/c{i}", CLIENT, 0) for i in range(25)]
    results.append(_result("default/bad", CLIENT, 1))
    lines = closing(results, {}, None, max_rows=20)
    assert lines[0] == "25 client pod(s) exited 0 without a restart"
    assert lines[2].split() == ["default/bad", "Failed", "1", "0"]
    assert len(lines) == 3


def test_closing_lists_denied_destinations_most_first_up_to_max_rows() -> None:
    flows = {Flow("10.244.0.9", f"10.96.{i}.1", "udp", 53): i + 1 for i in range(4)}
    lines = closing([], {}, Denied({"node-0": 30}, flows), max_rows=2)
    assert lines[0] == "denied by policy: 30 packet(s) (node-0 30), 10 connection(s)"
    # IPs no pod holds (here: the pod's own, unknown) are shown as IPs
    assert lines[2].split() == ["10.244.0.9", "10.96.3.1", "53/UDP", "4"]
    assert lines[3].split() == ["10.244.0.9", "10.96.2.1", "53/UDP", "3"]
    assert lines[4:] == ["... and 2 more denied destination(s)"]
