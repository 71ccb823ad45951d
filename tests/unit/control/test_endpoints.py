"""Endpoints with EndpointSlice controller semantics."""

from __future__ import annotations

import dataclasses

import pytest
from support.ctl_builders import pod, svc

from podnet.control.endpoints import compute_endpoints
from podnet.model.objects import ContainerPort, Pod, Service, ServicePort


def placed(p: Pod, ip: str, node: str = "node-0") -> Pod:
    return dataclasses.replace(p, ip=ip, node=node)


WEB = ContainerPort(8080, "TCP", "http")
WEB_ALT = ContainerPort(9090, "TCP", "http")

PODS = (
    placed(pod("web-1", {"app": "web"}, ports=(WEB,)), "10.244.0.5"),
    placed(pod("web-2", {"app": "web"}, ports=(WEB_ALT,)), "10.244.0.3"),
    placed(pod("web-3", {"app": "web"}), "10.244.1.2", "node-1"),  # no named port
    pod("web-pending", {"app": "web"}),  # not scheduled: no IP
    placed(pod("web-other-ns", {"app": "web"}, namespace="other"), "10.244.0.9"),
    placed(pod("db", {"app": "db"}), "10.244.0.4"),
)


def eps(s: Service, ready: dict[str, bool] | None = None) -> dict[str, list[tuple[str, int]]]:
    got = compute_endpoints([s], PODS, ready)[s.key]
    return {name: [(e.pod, e.port) for e in v] for name, v in got.items()}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (  # numeric targetPort: every matching pod, sorted by IP
            svc("web", {"app": "web"}, ports=(ServicePort(80, 8080),)),
            {"": [("default/web-2", 8080), ("default/web-1", 8080), ("default/web-3", 8080)]},
        ),
        (  # named targetPort resolved per pod; pods without it left out
            svc("web", {"app": "web"}, ports=(ServicePort(80, "http", name="http"),)),
            {"http": [("default/web-2", 9090), ("default/web-1", 8080)]},
        ),
        (  # named port with the wrong protocol matches nothing
            svc("web", {"app": "web"}, ports=(ServicePort(80, "http", "UDP", "http"),)),
            {"http": []},
        ),
        (  # no selector: no endpoints
            svc("manual", None, ports=(ServicePort(80, 80),)),
            {"": []},
        ),
        (  # empty selector is no selector (omitempty)
            svc("manual", {}, ports=(ServicePort(80, 80),)),
            {"": []},
        ),
        (
            svc("ext", {"app": "web"}, type="ExternalName", external_name="x.example"),
            {"": []},
        ),
        (  # multi-port
            svc(
                "multi",
                {"app": "db"},
                ports=(ServicePort(5432, 5432, name="pg"), ServicePort(9187, 9187, name="m")),
            ),
            {"pg": [("default/db", 5432)], "m": [("default/db", 9187)]},
        ),
    ],
)
def test_endpoint_table(service: Service, expected: dict[str, list[tuple[str, int]]]) -> None:
    assert eps(service) == expected


def test_not_ready_excluded() -> None:
    s = svc("web", {"app": "web"}, ports=(ServicePort(80, 8080),))
    got = eps(s, {"default/web-1": False})
    assert [k for k, _ in got[""]] == ["default/web-2", "default/web-3"]


def test_publish_not_ready_addresses() -> None:
    s = svc("web", {"app": "web"}, ports=(ServicePort(80, 8080),), publish_not_ready_addresses=True)
    got = compute_endpoints([s], PODS, {"default/web-1": False})[s.key][""]
    assert len(got) == 3 and all(e.ready for e in got)


def test_hostname_only_with_matching_subdomain() -> None:
    ss = (
        placed(pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"), "10.244.0.2"),
        placed(pod("db-1", {"app": "db"}, hostname="db-1", subdomain="other"), "10.244.0.3"),
    )
    s = svc("db", {"app": "db"}, cluster_ip="None")
    got = compute_endpoints([s], ss)[s.key][""]
    assert [(e.pod, e.hostname) for e in got] == [("default/db-0", "db-0"), ("default/db-1", None)]


def test_endpoint_fields() -> None:
    s = svc("web", {"app": "web"}, ports=(ServicePort(80, "http", name="http"),))
    e = compute_endpoints([s], PODS)[s.key]["http"][0]
    assert (e.ip, e.node, e.port, e.protocol, e.ready) == (
        "10.244.0.3",
        "node-0",
        9090,
        "TCP",
        True,
    )
