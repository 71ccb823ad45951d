"""Allocation errors name the user's Service where it was written (issue 14).

The messages are the API server's allocator's (pkg/registry/core/service/ipallocator
ErrAllocated, ErrNotInRange; portallocator likewise); the object blamed is the user's,
never podnet's own kube-dns or kubernetes Service.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.ctl_builders import svc

from podnet.control.cluster import build_cluster
from podnet.control.services import add_defaults, assign_cluster_ips, assign_node_ports
from podnet.errors import AllocationError, ClusterError, Location, ManifestError
from podnet.manifests import from_documents, parse_text
from podnet.model.meta import Meta
from podnet.model.objects import Service, ServicePort


def located(name: str, line: int, **kw: Any) -> Service:
    return svc(
        name, {"a": "b"}, meta=Meta("Service", "default", name, Location("u.yaml", line)), **kw
    )


def allocate(*services: Service) -> AllocationError:
    full, _ = add_defaults(services, [])
    with pytest.raises(AllocationError) as err:
        assign_cluster_ips(full)
    return err.value


@pytest.mark.parametrize("ip", ["10.96.0.10", "10.96.0.1"])
def test_user_service_on_a_builtin_address_is_blamed(ip: str) -> None:
    err = allocate(located("mine", 7, cluster_ip=ip))
    assert isinstance(err, ClusterError) and isinstance(err, ManifestError)
    assert err.obj == "Service/default/mine"
    assert err.location == Location("u.yaml", 7)
    assert err.field == "spec.clusterIP"
    assert "provided IP is already allocated" in err.message
    assert str(err).startswith("u.yaml:7: Service/default/mine: spec.clusterIP: ")


def test_out_of_range_says_the_range() -> None:
    err = allocate(located("far", 3, cluster_ip="10.200.0.1"))
    assert err.location == Location("u.yaml", 3) and err.field == "spec.clusterIP"
    assert err.message == (
        'Invalid value: "10.200.0.1": provided IP is not in the valid range. '
        "The range of valid IPs is 10.96.0.0/12"
    )


def test_clash_blames_the_later_and_points_at_the_first() -> None:
    err = allocate(
        located("one", 1, cluster_ip="10.100.0.5"), located("two", 9, cluster_ip="10.100.0.5")
    )
    assert err.obj == "Service/default/two" and err.location == Location("u.yaml", 9)
    assert "provided IP is already allocated (to Service/default/one at u.yaml:1)" in err.message


def test_builtin_service_with_another_address_is_blamed_where_written() -> None:
    dns = svc(
        "kube-dns",
        {"k8s-app": "kube-dns"},
        namespace="kube-system",
        cluster_ip="10.96.0.53",
        meta=Meta("Service", "kube-system", "kube-dns", Location("u.yaml", 4)),
    )
    err = allocate(dns)
    assert err.location == Location("u.yaml", 4) and err.field == "spec.clusterIP"


def test_node_port_clash_names_the_port_field() -> None:
    one = located("one", 1, type="NodePort", ports=(ServicePort(80, 80, node_port=30080),))
    two = located(
        "two",
        20,
        type="NodePort",
        ports=(ServicePort(81, 81, name="a"), ServicePort(80, 80, name="b", node_port=30080)),
    )
    with pytest.raises(AllocationError) as err:
        assign_node_ports([one, two])
    assert err.value.field == "spec.ports[1].nodePort"
    assert err.value.location == Location("u.yaml", 20)
    assert "provided port is already allocated (to Service/default/one at u.yaml:1" in str(
        err.value
    )


SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: web}}
  clusterIP: {ip}
  ports:
  - port: 80
"""


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.96.0.10", "provided IP is already allocated (to Service/kube-system/kube-dns"),
        ("10.96.0.1", "provided IP is already allocated (to Service/default/kubernetes"),
        ("10.112.0.1", "The range of valid IPs is 10.96.0.0/12"),
        ("10.96.0.0", "provided IP is not in the valid range"),
    ],
)
def test_loader_reports_the_clusterIP_line(ip: str, expected: str) -> None:
    text = "---\n" + SERVICE.format(name="mine", ip=ip)
    with pytest.raises(ManifestError) as err:
        from_documents(parse_text(text, "svc.yaml"))
    assert err.value.location == Location("svc.yaml", 8)  # the clusterIP line
    assert err.value.obj == "Service/default/mine" and err.value.field == "spec.clusterIP"
    assert expected in err.value.message


def test_clash_across_files_names_both_files() -> None:
    docs = parse_text(SERVICE.format(name="one", ip="10.100.0.5"), "a.yaml")
    docs += parse_text(SERVICE.format(name="two", ip="10.100.0.5"), "b.yaml")
    with pytest.raises(AllocationError) as err:
        build_cluster(from_documents(docs))
    assert str(err.value).startswith("b.yaml:1: Service/default/two: spec.clusterIP: ")
    assert "(to Service/default/one at a.yaml:1)" in str(err.value)


def test_loader_reports_a_builtin_service_with_another_address() -> None:
    text = SERVICE.format(name="kube-dns", ip="10.96.0.53").replace(
        "  name: kube-dns\n", "  name: kube-dns\n  namespace: kube-system\n"
    )
    with pytest.raises(ManifestError) as err:
        from_documents(parse_text(text, "dns.yaml"))
    assert err.value.location == Location("dns.yaml", 8) and err.value.field == "spec.clusterIP"
    assert "has clusterIP 10.96.0.10 in every podnet cluster" in err.value.message


def test_builtin_service_on_its_own_address_loads() -> None:
    text = SERVICE.format(name="kube-dns", ip="10.96.0.10").replace(
        "  name: kube-dns\n", "  name: kube-dns\n  namespace: kube-system\n"
    )
    build_cluster(from_documents(parse_text(text, "dns.yaml")))
