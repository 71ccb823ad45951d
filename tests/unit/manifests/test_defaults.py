"""API-server defaulting and conversion into the model (pkg/apis/core/v1/defaults.go,
pkg/apis/networking/v1/defaults.go)."""

from __future__ import annotations

from typing import Any

import pytest
from support.mf_builders import load, pod, policy, service, setpath, workload

from podnet.model.objects import IPBlock, PolicyPort, Probe
from podnet.model.selectors import LabelSelector, Requirement


def test_system_namespaces_always_exist() -> None:
    m = load()
    assert {n.name: n.labels for n in m.namespaces} == {
        "default": {"kubernetes.io/metadata.name": "default"},
        "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
    }


def test_declared_namespace_gets_name_label() -> None:
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "prod", "labels": {"team": "a", "kubernetes.io/metadata.name": "x"}},
    }
    m = load(ns)
    labels = {n.name: n.labels for n in m.namespaces}["prod"]
    assert labels == {"team": "a", "kubernetes.io/metadata.name": "prod"}


def test_undeclared_namespace_is_created_with_warning() -> None:
    m = load(setpath(pod(), "metadata.namespace", "shop"))
    assert "shop" in [n.name for n in m.namespaces]
    assert any("shop" in w and "implicitly" in w for w in m.warnings)


def test_namespace_defaults_to_default() -> None:
    m = load(pod(), service(), policy())
    assert m.pods[0].namespace == m.services[0].namespace == m.policies[0].namespace == "default"


def test_cluster_scoped_namespace_field_ignored() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "b"}}
    m = load(ns)
    assert "b" not in [n.name for n in m.namespaces]


def test_service_defaults() -> None:
    (s,) = load(service(ports=[{"port": 80}])).services
    assert (s.type, s.session_affinity, s.cluster_ip, s.session_affinity_timeout) == (
        "ClusterIP",
        "None",
        None,
        10800,
    )
    (p,) = s.ports
    assert (p.port, p.target_port, p.protocol, p.name) == (80, 80, "TCP", "")


@pytest.mark.parametrize("target", [0, ""])
def test_service_zero_target_port_is_port(target: Any) -> None:
    (s,) = load(service(ports=[{"port": 53, "targetPort": target, "protocol": "UDP"}])).services
    assert s.ports[0].target_port == 53 and s.ports[0].protocol == "UDP"


def test_service_fields() -> None:
    doc = service(
        clusterIP="None",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
        publishNotReadyAddresses=True,
        ports=[{"port": 80, "targetPort": "http", "name": "web", "appProtocol": "http"}],
    )
    (s,) = load(doc).services
    assert s.headless and s.session_affinity == "ClientIP" and s.session_affinity_timeout == 60
    assert s.publish_not_ready_addresses
    assert s.ports[0].target_port == "http" and s.ports[0].app_protocol == "http"


@pytest.mark.parametrize(
    ("selector", "expected"), [(None, None), ({}, None), ({"a": "b"}, {"a": "b"})]
)
def test_service_selector(selector: Any, expected: Any) -> None:
    doc = service()
    if selector is None:
        del doc["spec"]["selector"]
    else:
        doc["spec"]["selector"] = selector
    assert load(doc).services[0].selector == expected


def test_pod_defaults_and_container_fields() -> None:
    doc = setpath(
        pod(),
        "spec.containers",
        [
            {
                "name": "c",
                "image": "busybox",
                "command": ["sh"],
                "args": ["-c", "x"],
                "workingDir": "/w",
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                ],
                "ports": [
                    {"containerPort": 8080, "name": "http"},
                    {"containerPort": 53, "protocol": "UDP"},
                ],
                "readinessProbe": {"httpGet": {"port": "http"}, "periodSeconds": 2},
            }
        ],
    )
    m = load(doc)
    (p,) = m.pods
    assert p.restart_policy == "Always" and p.owner is None
    (c,) = p.containers
    assert c.command == ("sh",) and c.args == ("-c", "x") and c.working_dir == "/w"
    assert c.env == (("A", "1"), ("B", ""))
    assert [(x.container_port, x.protocol, x.name) for x in c.ports] == [
        (8080, "TCP", "http"),
        (53, "UDP", None),
    ]
    assert c.readiness_probe == Probe(http_get_port="http", http_get_path="/", period_seconds=2)
    assert any("valueFrom" in w for w in m.warnings)
    assert p.named_port("http", "TCP") == 8080


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ({"exec": {"command": ["cat", "/ok"]}}, Probe(exec_command=("cat", "/ok"))),
        (
            {
                "tcpSocket": {"port": 80},
                "timeoutSeconds": 5,
                "failureThreshold": 1,
                "initialDelaySeconds": 3,
                "successThreshold": 2,
            },
            Probe(
                tcp_socket_port=80,
                timeout_seconds=5,
                failure_threshold=1,
                initial_delay_seconds=3,
                success_threshold=2,
            ),
        ),
        (
            {"httpGet": {"port": 80, "path": "/healthz"}},
            Probe(http_get_port=80, http_get_path="/healthz"),
        ),
    ],
)
def test_probe_conversion(probe: dict[str, Any], expected: Probe) -> None:
    (p,) = load(setpath(pod(), "spec.containers[0].readinessProbe", probe)).pods
    assert p.containers[0].readiness_probe == expected


def test_grpc_probe_converted() -> None:
    probe = {"grpc": {"port": 9000, "service": "liveness"}, "periodSeconds": 2}
    m = load(setpath(pod(), "spec.containers[0].readinessProbe", probe))
    ready = m.pods[0].containers[0].readiness_probe
    assert ready == Probe(grpc_port=9000, grpc_service="liveness", period_seconds=2)
    assert not m.warnings


def test_pod_spec_fields() -> None:
    doc = pod(
        hostname="h",
        subdomain="sub",
        nodeName="node-1",
        nodeSelector={"d": "ssd"},
        restartPolicy="Never",
        initContainers=[{"name": "init", "image": "busybox"}],
    )
    (p,) = load(doc).pods
    assert (p.hostname, p.subdomain, p.node_name, p.node_selector, p.restart_policy) == (
        "h",
        "sub",
        "node-1",
        {"d": "ssd"},
        "Never",
    )
    assert [c.name for c in p.init_containers] == ["init"]


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({}, ("Ingress",)),
        ({"ingress": [{}]}, ("Ingress",)),
        ({"egress": [{}]}, ("Ingress", "Egress")),
        ({"egress": []}, ("Ingress",)),
        ({"policyTypes": ["Egress"]}, ("Egress",)),
        ({"policyTypes": ["Egress", "Ingress"], "egress": [{}]}, ("Egress", "Ingress")),
    ],
)
def test_policy_types_default(spec: dict[str, Any], types: tuple[str, ...]) -> None:
    assert load(policy(**spec)).policies[0].policy_types == types


def test_policy_rules_conversion() -> None:
    doc = policy(
        podSelector={"matchLabels": {"app": "db"}},
        ingress=[
            {},
            {"from": []},
            {
                "from": [
                    {"podSelector": {}},
                    {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": "env", "operator": "In", "values": ["prod"]}
                            ]
                        }
                    },
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                ],
                "ports": [
                    {"port": 5432},
                    {"port": 6000, "endPort": 6010, "protocol": "UDP"},
                    {"port": "metrics"},
                ],
            },
        ],
        egress=[{"to": [{"podSelector": {"matchLabels": {"a": "b"}}, "namespaceSelector": {}}]}],
    )
    (np,) = load(doc).policies
    assert np.pod_selector == LabelSelector(match_labels=(("app", "db"),))
    assert np.ingress[0].peers == () and np.ingress[0].ports == ()
    assert np.ingress[1].peers == ()
    peers = np.ingress[2].peers
    assert peers[0].pod_selector == LabelSelector() and peers[0].namespace_selector is None
    assert peers[1].pod_selector is None
    assert peers[1].namespace_selector == LabelSelector(
        match_expressions=(Requirement("env", "In", ("prod",)),)
    )
    assert peers[2].ip_block == IPBlock("10.0.0.0/8", ("10.1.0.0/16",))
    assert np.ingress[2].ports == (
        PolicyPort("TCP", 5432),
        PolicyPort("UDP", 6000, 6010),
        PolicyPort("TCP", "metrics"),
    )
    e = np.egress[0].peers[0]
    assert e.pod_selector == LabelSelector(match_labels=(("a", "b"),))
    assert e.namespace_selector == LabelSelector()
    assert np.policy_types == ("Ingress", "Egress")


def test_empty_ingress_list_means_no_rules() -> None:
    (np,) = load(policy(ingress=[])).policies
    assert np.ingress == () and np.policy_types == ("Ingress",)
    assert np.pod_selector.is_empty


def test_host_network_warned() -> None:
    m = load(pod(hostNetwork=True))
    assert any("hostNetwork" in w for w in m.warnings)


def test_template_warnings_once_per_workload() -> None:
    doc = setpath(
        workload("Deployment", replicas=3),
        "spec.template.spec.containers[0].env",
        [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    )
    assert len([w for w in load(doc).warnings if "valueFrom" in w]) == 1
