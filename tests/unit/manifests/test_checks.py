"""Every semantic check: a table of (document, field the error must name).

The expected behaviour is the API server's (pkg/apis/core/validation,
pkg/apis/networking/validation, pkg/apis/apps/validation, pkg/apis/batch/validation).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.mf_builders import error_of, load, pod, policy, service, setpath, workload

C0 = "spec.containers[0]"
PEER = "spec.ingress[0].from[0]"


def ingress_from(peer: dict[str, Any]) -> dict[str, Any]:
    return policy(ingress=[{"from": [peer]}])


def ingress_port(port: dict[str, Any]) -> dict[str, Any]:
    return policy(ingress=[{"ports": [port]}])


def sel_expr(**req: Any) -> dict[str, Any]:
    return ingress_from({"podSelector": {"matchExpressions": [req]}})


BAD: list[tuple[str, dict[str, Any], str]] = [
    # names
    ("pod name not subdomain", setpath(pod(), "metadata.name", "Web_1"), "metadata.name"),
    ("service name not 1035", service("1web"), "metadata.name"),
    ("service name with dot", service("a.b"), "metadata.name"),
    (
        "namespace name with dot",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}},
        "metadata.name",
    ),
    ("statefulset name with dot", workload("StatefulSet", "a.b"), "metadata.name"),
    ("bad namespace", setpath(pod(), "metadata.namespace", "Prod"), "metadata.namespace"),
    ("no name", setpath(pod(), "metadata", {}), "metadata.name"),
    ("generateName", setpath(pod(), "metadata", {"generateName": "x-"}), "metadata.name"),
    # labels
    ("label value", setpath(pod(), "metadata.labels", {"app": "-x"}), "metadata.labels.app"),
    ("label key", setpath(pod(), "metadata.labels", {"a/b/c": "x"}), "metadata.labels.a/b/c"),
    (
        "label value too long",
        setpath(pod(), "metadata.labels", {"a": "x" * 64}),
        "metadata.labels.a",
    ),
    # containers
    ("container name", setpath(pod(), f"{C0}.name", "C"), f"{C0}.name"),
    (
        "dup container",
        setpath(
            pod(), "spec.containers", [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]
        ),
        "spec.containers[1].name",
    ),
    ("no image", setpath(pod(), f"{C0}.image", ""), f"{C0}.image"),
    (
        "containerPort 0",
        setpath(pod(), f"{C0}.ports", [{"containerPort": 0}]),
        f"{C0}.ports[0].containerPort",
    ),
    (
        "containerPort 70000",
        setpath(pod(), f"{C0}.ports", [{"containerPort": 70000}]),
        f"{C0}.ports[0].containerPort",
    ),
    (
        "containerPort protocol",
        setpath(pod(), f"{C0}.ports", [{"containerPort": 80, "protocol": "tcp"}]),
        f"{C0}.ports[0].protocol",
    ),
    (
        "containerPort name too long",
        setpath(pod(), f"{C0}.ports", [{"containerPort": 80, "name": "a" * 16}]),
        f"{C0}.ports[0].name",
    ),
    (
        "containerPort name digits",
        setpath(pod(), f"{C0}.ports", [{"containerPort": 80, "name": "8080"}]),
        f"{C0}.ports[0].name",
    ),
    (
        "containerPort name dup",
        setpath(
            pod(),
            f"{C0}.ports",
            [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}],
        ),
        f"{C0}.ports[1].name",
    ),
    ("restartPolicy", setpath(pod(), "spec.restartPolicy", "Sometimes"), "spec.restartPolicy"),
    ("hostname", setpath(pod(), "spec.hostname", "a.b"), "spec.hostname"),
    (
        "probe two handlers",
        setpath(
            pod(),
            f"{C0}.readinessProbe",
            {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}},
        ),
        f"{C0}.readinessProbe",
    ),
    (
        "probe no handler",
        setpath(pod(), f"{C0}.readinessProbe", {"periodSeconds": 1}),
        f"{C0}.readinessProbe",
    ),
    (
        "probe port",
        setpath(pod(), f"{C0}.readinessProbe", {"httpGet": {"port": 0}}),
        f"{C0}.readinessProbe.httpGet.port",
    ),
    (
        "probe negative",
        setpath(pod(), f"{C0}.readinessProbe", {"tcpSocket": {"port": 80}, "periodSeconds": -1}),
        f"{C0}.readinessProbe.periodSeconds",
    ),
    # services
    ("svc port 0", service(ports=[{"port": 0}]), "spec.ports[0].port"),
    ("svc port 65536", service(ports=[{"port": 65536}]), "spec.ports[0].port"),
    ("svc protocol", service(ports=[{"port": 80, "protocol": "ICMP"}]), "spec.ports[0].protocol"),
    (
        "svc targetPort range",
        service(ports=[{"port": 80, "targetPort": 70000}]),
        "spec.ports[0].targetPort",
    ),
    (
        "svc targetPort name",
        service(ports=[{"port": 80, "targetPort": "Http"}]),
        "spec.ports[0].targetPort",
    ),
    (
        "svc multi-port unnamed",
        service(ports=[{"port": 80, "name": "a"}, {"port": 81}]),
        "spec.ports[1].name",
    ),
    (
        "svc port names unique",
        service(ports=[{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]),
        "spec.ports[1].name",
    ),
    ("svc port name label", service(ports=[{"port": 80, "name": "A"}]), "spec.ports[0].name"),
    (
        "svc dup port",
        service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]),
        "spec.ports[1]",
    ),
    ("svc no ports", service(ports=[]), "spec.ports"),
    ("svc clusterIP", service(clusterIP="10.96.0.300"), "spec.clusterIP"),
    ("svc clusterIP word", service(clusterIP="none"), "spec.clusterIP"),
    ("svc headless NodePort", service(clusterIP="None", type="NodePort"), "spec.clusterIP"),
    ("svc type", service(type="Internal"), "spec.type"),
    (
        "svc nodePort range",
        service(type="NodePort", ports=[{"port": 80, "nodePort": 80}]),
        "spec.ports[0].nodePort",
    ),
    (
        "svc nodePort on ClusterIP",
        service(ports=[{"port": 80, "nodePort": 30080}]),
        "spec.ports[0].nodePort",
    ),
    ("svc externalName missing", service(type="ExternalName"), "spec.externalName"),
    ("svc selector value", service(selector={"app": "a b"}), "spec.selector.app"),
    ("svc affinity", service(sessionAffinity="Cookie"), "spec.sessionAffinity"),
    (
        "svc affinity timeout",
        service(
            sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}}
        ),
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
    ),
    # network policies
    ("np protocol", ingress_port({"protocol": "ICMP"}), "spec.ingress[0].ports[0].protocol"),
    ("np port range", ingress_port({"port": 0}), "spec.ingress[0].ports[0].port"),
    ("np port name", ingress_port({"port": "HTTP"}), "spec.ingress[0].ports[0].port"),
    ("np endPort w/o port", ingress_port({"endPort": 90}), "spec.ingress[0].ports[0].endPort"),
    (
        "np endPort named port",
        ingress_port({"port": "http", "endPort": 90}),
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "np endPort < port",
        ingress_port({"port": 90, "endPort": 80}),
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "np endPort range",
        ingress_port({"port": 90, "endPort": 65536}),
        "spec.ingress[0].ports[0].endPort",
    ),
    ("np empty peer", ingress_from({}), PEER),
    (
        "np ipBlock with selector",
        ingress_from({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}),
        PEER,
    ),
    ("np bad cidr", ingress_from({"ipBlock": {"cidr": "10.0.0.0/33"}}), f"{PEER}.ipBlock.cidr"),
    ("np cidr no prefix", ingress_from({"ipBlock": {"cidr": "10.0.0.1"}}), f"{PEER}.ipBlock.cidr"),
    (
        "np except outside",
        ingress_from({"ipBlock": {"cidr": "10.0.0.0/24", "except": ["192.168.0.0/24"]}}),
        f"{PEER}.ipBlock.except[0]",
    ),
    (
        "np except equal",
        ingress_from({"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.0/24"]}}),
        f"{PEER}.ipBlock.except[0]",
    ),
    (
        "np except invalid",
        ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/99"]}}),
        f"{PEER}.ipBlock.except[0]",
    ),
    (
        "np except other family",
        ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/64"]}}),
        f"{PEER}.ipBlock.except[0]",
    ),
    ("np egress peer", policy(egress=[{"to": [{}]}]), "spec.egress[0].to[0]"),
    ("np policyTypes", policy(policyTypes=["Inbound"]), "spec.policyTypes[0]"),
    (
        "np policyTypes too many",
        policy(policyTypes=["Ingress", "Egress", "Ingress"]),
        "spec.policyTypes",
    ),
    (
        "sel In no values",
        sel_expr(key="a", operator="In", values=[]),
        f"{PEER}.podSelector.matchExpressions[0].values",
    ),
    (
        "sel NotIn no values",
        sel_expr(key="a", operator="NotIn"),
        f"{PEER}.podSelector.matchExpressions[0].values",
    ),
    (
        "sel Exists values",
        sel_expr(key="a", operator="Exists", values=["x"]),
        f"{PEER}.podSelector.matchExpressions[0].values",
    ),
    (
        "sel DoesNotExist values",
        sel_expr(key="a", operator="DoesNotExist", values=["x"]),
        f"{PEER}.podSelector.matchExpressions[0].values",
    ),
    (
        "sel operator",
        sel_expr(key="a", operator="Equals", values=["x"]),
        f"{PEER}.podSelector.matchExpressions[0].operator",
    ),
    (
        "sel key",
        sel_expr(key="-a", operator="Exists"),
        f"{PEER}.podSelector.matchExpressions[0].key",
    ),
    (
        "sel value",
        sel_expr(key="a", operator="In", values=["x y"]),
        f"{PEER}.podSelector.matchExpressions[0].values[0]",
    ),
    (
        "np matchLabels",
        policy(podSelector={"matchLabels": {"a": "b c"}}),
        "spec.podSelector.matchLabels.a",
    ),
    # workloads
    (
        "deploy selector mismatch",
        workload("Deployment", selector={"matchLabels": {"app": "x"}}),
        "spec.template.metadata.labels",
    ),
    ("deploy empty selector", workload("Deployment", selector={}), "spec.selector"),
    (
        "rs selector mismatch",
        workload(
            "ReplicaSet",
            selector={"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["w"]}]},
        ),
        "spec.template.metadata.labels",
    ),
    (
        "sts selector mismatch",
        workload("StatefulSet", selector={"matchLabels": {"a": "b"}}),
        "spec.template.metadata.labels",
    ),
    (
        "ds selector mismatch",
        workload("DaemonSet", selector={"matchLabels": {"a": "b"}}),
        "spec.template.metadata.labels",
    ),
    (
        "deploy restartPolicy",
        setpath(workload("Deployment"), "spec.template.spec.restartPolicy", "Never"),
        "spec.template.spec.restartPolicy",
    ),
    ("deploy negative replicas", workload("Deployment", replicas=-1), "spec.replicas"),
    (
        "deploy bad template container",
        setpath(workload("Deployment"), "spec.template.spec.containers[0].name", "A"),
        "spec.template.spec.containers[0].name",
    ),
    (
        "job restartPolicy Always",
        setpath(workload("Job"), "spec.template.spec.restartPolicy", "Always"),
        "spec.template.spec.restartPolicy",
    ),
    (
        "job no restartPolicy",
        setpath(
            workload("Job"), "spec.template.spec", {"containers": [{"name": "c", "image": "x"}]}
        ),
        "spec.template.spec.restartPolicy",
    ),
    ("sts serviceName", workload("StatefulSet", serviceName="a.b"), "spec.serviceName"),
    # schema (kubernetes-validate, strict)
    (
        "schema type",
        setpath(pod(), f"{C0}.ports", [{"containerPort": "80"}]),
        f"{C0}.ports[0].containerPort",
    ),
    (
        "schema unknown field",
        setpath(pod(), f"{C0}.imagePullPolicyy", "x"),
        f"{C0}.imagePullPolicyy",
    ),
    ("schema missing required", setpath(pod(), "spec", {}), "spec.containers"),
    # issue 14: an IPv6 clusterIP is outside podnet's (IPv4) service range, refused at load
    ("svc clusterIP v6", service(clusterIP="fd00::10"), "spec.clusterIP"),
    (
        "schema targetPort float",
        service(ports=[{"port": 80, "targetPort": 1.5}]),
        "spec.ports[0].targetPort",
    ),
    # envelope
    ("no kind", {"apiVersion": "v1", "metadata": {"name": "x"}}, "kind"),
    ("no apiVersion", {"kind": "Pod", "metadata": {"name": "x"}}, "apiVersion"),
    (
        "wrong apiVersion",
        setpath(workload("Deployment"), "apiVersion", "extensions/v1beta1"),
        "apiVersion",
    ),
]


@pytest.mark.parametrize(
    ("doc", "field"), [(d, f) for _, d, f in BAD], ids=[name for name, _, _ in BAD]
)
def test_invalid_documents_are_rejected(doc: dict[str, Any], field: str) -> None:
    err = error_of(doc)
    assert err.field == field, str(err)
    assert err.location is not None and err.location.file == "test.yaml"
    assert err.message


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("svc named targetPort", service(ports=[{"port": 80, "targetPort": "http"}])),
    ("svc targetPort 0 defaults", service(ports=[{"port": 80, "targetPort": 0}])),
    ("svc headless without ports", service(clusterIP="None", ports=[])),
    ("svc clusterIP in range", service(clusterIP="10.96.5.5")),
    ("svc externalName", service(type="ExternalName", externalName="db.example.com", ports=[])),
    ("svc nodePort", service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])),
    (
        "np except strict subset",
        ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}),
    ),
    ("np cidr host bits", ingress_from({"ipBlock": {"cidr": "10.0.0.1/8"}})),
    ("np ns+pod selector", ingress_from({"podSelector": {}, "namespaceSelector": {}})),
    ("np endPort", ingress_port({"port": 80, "endPort": 90})),
    ("np named port", ingress_port({"port": "http", "protocol": "UDP"})),
    ("label key prefix", setpath(pod(), "metadata.labels", {"example.com/a": "", "x": "A.b_c"})),
    (
        "job manual selector",
        workload("Job", manualSelector=True, selector={"matchLabels": {"app": "w"}}),
    ),
    (
        "same port name in two containers",
        setpath(
            pod(),
            "spec.containers",
            [
                {"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]},
                {"name": "b", "image": "x", "ports": [{"containerPort": 81, "name": "http"}]},
            ],
        ),
    ),
]


@pytest.mark.parametrize("doc", [d for _, d in GOOD], ids=[n for n, _ in GOOD])
def test_valid_documents_load(doc: dict[str, Any]) -> None:
    load(doc)


def test_same_port_name_in_two_containers_warns() -> None:
    _, doc = GOOD[-1]
    assert any("duplicate port name" in w for w in load(doc).warnings)


def test_conflicting_duplicate_objects_rejected() -> None:
    err = error_of(pod("a"), setpath(pod("a"), "metadata.labels", {"x": "y"}))
    assert err.obj == "Pod/default/a"


def test_identical_duplicate_objects_used_once() -> None:
    # kubectl apply -f dir/ applies an identical second copy as "unchanged"
    m = load(pod("a"), pod("a"))
    assert [p.key for p in m.pods] == ["default/a"]
    assert any("identical" in w for w in m.warnings)


def test_same_name_different_kind_or_namespace_ok() -> None:
    m = load(pod("a"), service("a"), setpath(pod("a"), "metadata.namespace", "other"))
    assert [p.key for p in m.pods] == ["default/a", "other/a"]


def test_generated_pod_colliding_with_declared_pod() -> None:
    err = error_of(workload("StatefulSet", "web"), pod("web-0"))
    assert err.obj in ("Pod/default/web-0", "StatefulSet/web")


def test_unknown_kind_is_warned_and_skipped() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    crd = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    m = load(cm, crd, pod())
    assert len(m.pods) == 1
    assert any("ConfigMap" in w for w in m.warnings)
    assert any("Widget" in w for w in m.warnings)


def test_errors_carry_object_and_location() -> None:
    err = error_of(service("s", ports=[{"port": 0}]))
    assert err.obj == "Service/default/s"
    assert err.location is not None and err.location.line == 1
    assert "test.yaml:1" in str(err) and "spec.ports[0].port" in str(err)
