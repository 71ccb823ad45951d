"""Pure parts of ``podnet probe``: the plan, judging results, the output contract.

No kernel: the cluster is computed with the real loader and control plane, the
prober's results are made up.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest

from podnet.analyze.matrix import compute_matrix
from podnet.control.cluster import build_cluster
from podnet.errors import Location
from podnet.live.probe.plan import by_source, plan_probes
from podnet.live.probe.render import format_table, to_json, write_json
from podnet.live.probe.result import (
    ALLOWED,
    DENIED,
    NO_SERVICE,
    ProbeReport,
    disagreements,
    judge,
)
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"


def _pod(name: str, labels: dict[str, str], ports: list[tuple[int, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "x", "labels": labels},
        "spec": {
            "containers": [
                {
                    "name": f"c{port}{proto.lower()}",
                    "image": AGNHOST,
                    "args": [
                        "serve-hostname",
                        f"--{proto.lower()}",
                        "--http=false",
                        "--port",
                        str(port),
                    ],
                    "ports": [{"containerPort": port, "protocol": proto, "name": f"p{port}"}],
                }
                for port, proto in ports
            ]
            or [{"name": "pause", "image": AGNHOST, "args": ["pause"]}]
        },
    }


def _svc(name: str, selector: dict[str, str], ports: list[tuple[int, Any, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "x"},
        "spec": {
            "selector": selector,
            "ports": [
                {"name": f"s{i}", "port": p, "targetPort": t, "protocol": proto}
                for i, (p, t, proto) in enumerate(ports)
            ],
        },
    }


DENY_A: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny-to-a", "namespace": "x"},
    "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Ingress"]},
}


def _state(*extra: dict[str, Any]) -> ClusterState:
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
        _pod("a", {"pod": "a", "app": "web"}, [(80, "TCP"), (53, "UDP")]),
        _pod("b", {"pod": "b", "app": "web"}, [(80, "TCP")]),
        _pod("c", {"pod": "c"}, []),
        # only-b: one endpoint; web: a and b; the UDP port only through "web"
        _svc("only-b", {"pod": "b"}, [(8080, 80, "TCP")]),
        _svc("web", {"app": "web"}, [(9000, "p80", "TCP"), (5353, 53, "UDP")]),
        *extra,
    ]
    state = build_cluster(from_documents([(d, Location("t.yaml", 1)) for d in docs]))
    return state


def _users(state: ClusterState) -> list[Any]:
    return [p for p in state.pods if p.namespace == "x"]


def test_via_pod_probes_every_served_port_of_every_other_pod() -> None:
    state = _state()
    plan = plan_probes(state, _users(state), "pod")
    got = {(x.src, x.dst, x.port, x.protocol) for x in plan}
    assert ("x/a", "x/b", 80, "TCP") in got and ("x/b", "x/a", 53, "UDP") in got
    assert all(x.src != x.dst for x in plan)
    assert not any(x.dst == "x/c" for x in plan)  # c serves nothing
    # b serves 53/UDP too: "web" targets it there (served_ports counts targetPorts)
    assert len(plan) == 8
    b = state.pod("x/b")
    assert b is not None
    assert all(x.address == b.ip for x in plan if x.dst == "x/b")
    assert [(x.src, x.dst, x.port) for x in plan] == sorted((x.src, x.dst, x.port) for x in plan)


def test_via_service_prefers_the_service_with_fewest_endpoints() -> None:
    state = _state()
    plan = plan_probes(state, _users(state), "service")
    by = {(x.src, x.dst, x.port, x.protocol): x for x in plan}
    to_b = by[("x/a", "x/b", 80, "TCP")]
    only_b = state.service("x/only-b")
    assert only_b is not None
    assert (to_b.service, to_b.address, to_b.address_port) == ("x/only-b", only_b.cluster_ip, 8080)
    assert to_b.backends == (("x/b", 80),)
    # a's port 80 is reached only through "web" (named targetPort), which also has b
    to_a = by[("x/b", "x/a", 80, "TCP")]
    assert to_a.service == "x/web" and to_a.address_port == 9000
    assert to_a.backends == (("x/a", 80), ("x/b", 80))
    udp = by[("x/c", "x/a", 53, "UDP")]
    assert udp.service == "x/web" and udp.address_port == 5353


def test_pairs_without_a_service_are_planned_without_address() -> None:
    state = _state()
    state = dataclasses.replace(state, services=(), endpoints={})
    plan = plan_probes(state, _users(state), "service")
    assert plan and all(x.address is None and x.service is None for x in plan)
    assert by_source(plan) == {}


def test_unknown_via_is_rejected() -> None:
    with pytest.raises(ValueError):
        plan_probes(_state(), [], "node")


def _judged(state: ClusterState, via: str, result_of: Any) -> list[Any]:
    plan = plan_probes(state, _users(state), via)
    results = [None if x.address is None else result_of(x) for x in plan]
    return judge(compute_matrix(state), plan, results)


def test_judge_agrees_when_observed_matches_the_engine() -> None:
    state = _state(DENY_A)
    obs = _judged(state, "pod", lambda x: (DENIED if x.dst == "x/a" else ALLOWED, "t"))
    assert not disagreements(obs)
    assert all(o.predicted == (o.planned.dst != "x/a") for o in obs)


def test_judge_flags_a_denied_probe_the_engine_allows() -> None:
    state = _state()
    obs = _judged(state, "pod", lambda x: (DENIED, "timeout"))
    assert len(disagreements(obs)) == len(obs)
    unsupported = _judged(state, "pod", lambda x: ("unsupported", "no SCTP"))
    assert not disagreements(unsupported)


def test_several_backends_any_backend_verdict_agrees() -> None:
    """b -> a:80 goes through "web" (a denies, b allows): either outcome is right."""
    state = _state(DENY_A)
    for outcome in (ALLOWED, DENIED):
        obs = _judged(state, "service", lambda x, o=outcome: (o, "t"))
        via_web = [o for o in obs if o.planned.service == "x/web" and o.planned.dst == "x/a"]
        assert via_web and not any(o.disagrees for o in via_web)
        assert all(o.possible == {True, False} for o in via_web if o.planned.src == "x/c")


def _report(state: ClusterState, via: str, result_of: Any) -> ProbeReport:
    obs = _judged(state, via, result_of)
    return ProbeReport(state, tuple(_users(state)), via, tuple(obs), (), {"total": 1.0})


def test_json_contract_extends_analyze() -> None:
    state = dataclasses.replace(_state(DENY_A), services=(), endpoints={})
    report = _report(state, "service", lambda x: (ALLOWED, "t"))
    data = to_json(report)
    assert [p["name"] for p in data["pods"]] == ["a", "b", "c"]
    row = data["connections"][0]
    assert set(row) >= {"from", "to", "port", "protocol", "allowed", "reason"}
    assert row["result"] == NO_SERVICE and row["allowed"] is False and "predicted" in row
    assert data["summary"]["no service"] == len(data["connections"])
    assert data["summary"]["disagreements"] == 0
    out = io.StringIO()
    write_json(report, out)
    assert json.loads(out.getvalue()) == data


def test_table_shows_both_grids_and_each_disagreement() -> None:
    state = _state(DENY_A)
    report = _report(state, "pod", lambda x: (ALLOWED, "connected"))
    text = format_table(report)
    assert "observed" in text and "predicted" in text and "80/TCP" in text and "53/UDP" in text
    assert "disagreements:" in text
    assert "x/b -> x/a 80/TCP: predicted denied, observed allowed" in text
