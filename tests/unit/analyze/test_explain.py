"""``explain``: the seed's pod-a -> my-service trace, and the shop's harder cases."""

from __future__ import annotations

import pytest
from support.paths import REPO

from podnet.analyze.explain.connection import Tracer
from podnet.analyze.explain.dns import candidates
from podnet.analyze.explain.render import WIDTH, format_text, to_dict
from podnet.control.cluster import build_cluster
from podnet.errors import TargetError
from podnet.manifests import load_paths

ROOT = REPO
SEED = [
    str(ROOT / "examples/seed/pod-to-service.yaml"),
    str(ROOT / "examples/seed/pitfall-pod-ip.yaml"),
]
SHOP = ROOT / "examples/shop"


@pytest.fixture(scope="module")
def seed() -> Tracer:
    return Tracer(build_cluster(load_paths(SEED)))


@pytest.fixture(scope="module")
def shop() -> Tracer:
    return Tracer(build_cluster(load_paths([str(SHOP / "base"), str(SHOP / "broken")])))


def test_search_path_and_ndots() -> None:
    assert candidates("my-service", "default") == (
        "my-service.default.svc.cluster.local.",
        "my-service.svc.cluster.local.",
        "my-service.cluster.local.",
        "my-service.",
    )
    assert candidates("a.b.c.d.e.f", "x")[0] == "a.b.c.d.e.f."  # 5 dots: as is first
    assert candidates("web.", "x") == ("web.",)


def test_seed_pod_a_reaches_pod_b_through_my_service(seed: Tracer) -> None:
    e = seed.explain("pod-a", "my-service")
    assert e.reachable
    assert e.lookup is not None and e.lookup.answer is not None
    assert e.lookup.answer.qname == "my-service.default.svc.cluster.local."
    assert e.service is not None and e.service.key == "default/my-service"
    assert e.service_port is not None and e.service_port.port == 80
    [hop] = e.hops
    assert hop.pod == "default/pod-b" and hop.port == 80
    assert hop.verdict.egress.allowed and hop.verdict.ingress.allowed
    text = format_text(e)
    for step in ("DNS", "SERVICE", "ENDPOINT", "egress from default/pod-a", "ingress to", "RESULT"):
        assert step in text
    assert all(len(line) <= WIDTH for line in text.splitlines())
    data = to_dict(e)
    assert data["reachable"] is True
    assert data["endpoints"][0]["pod"] == "default/pod-b"
    assert data["dns"]["addresses"] == [e.service.cluster_ip]


@pytest.mark.parametrize(
    "target", ["my-service", "my-service.default", "my-service.default.svc.cluster.local",
               "svc/my-service", "svc/default/my-service", "my-service:80", "my-service:80/tcp"],
)  # fmt: skip
def test_seed_target_forms_agree(seed: Tracer, target: str) -> None:
    e = seed.explain("default/pod-a", target)
    assert e.reachable and [h.pod for h in e.hops] == ["default/pod-b"]


def test_pod_and_ip_targets(seed: Tracer) -> None:
    e = seed.explain("pod/pod-a", "pod-b")  # no such DNS name: the pod
    assert e.kind == "pod" and e.reachable and e.hops[0].port == 80  # nginx serves 80
    pod_b = seed.state.pod("default/pod-b")
    assert pod_b is not None
    ip = pod_b.ip
    assert seed.explain("pod-a", f"{ip}:80").hops[0].pod == "default/pod-b"


def test_unresolved_name_is_not_reachable(seed: Tracer) -> None:
    e = seed.explain("pod-a", "my-servce")
    assert not e.reachable and e.kind == "unresolved"
    assert e.lookup is not None and all(q.rcode != "NOERROR" for q in e.lookup.queries)


def test_service_port_not_exposed(seed: Tracer) -> None:
    e = seed.explain("pod-a", "my-service:8080")
    assert not e.reachable and "does not expose" in e.result


def test_unknown_source_and_ambiguous_port_are_errors(seed: Tracer, shop: Tracer) -> None:
    with pytest.raises(TargetError):
        seed.explain("nope", "my-service")
    with pytest.raises(TargetError):
        shop.explain("monitoring/prober", "kube-dns.kube-system")  # 3 ports


def test_ingress_policy_denies_every_endpoint(shop: Tracer) -> None:
    e = shop.explain("shop/loadgen", "api")
    assert not e.reachable and len(e.hops) == 2
    for h in e.hops:
        assert h.verdict.egress.allowed and not h.verdict.ingress.allowed
        assert h.verdict.ingress.isolating_policies == ("shop/api-ingress",)


def test_cross_namespace_allowed_by_named_rule(shop: Tracer) -> None:
    e = shop.explain("monitoring/prober", "frontend.shop.svc.cluster.local")
    assert e.reachable and len(e.hops) == 2
    rule = e.hops[0].verdict.ingress.allowed_by[0]
    assert (rule.policy, rule.direction, rule.index) == ("shop/frontend-ingress", "ingress", 0)


def test_blocked_dns_lookup_makes_it_unreachable(shop: Tracer) -> None:
    e = shop.explain("deploy/api", "db.data", namespace="shop")
    assert e.hops[0].verdict.allowed  # the database itself would be reachable
    assert e.dns_verdict is not None and not e.dns_verdict.allowed
    assert not e.reachable and "DNS lookup" in e.result


def test_workload_source_is_its_first_pod(shop: Tracer) -> None:
    e = shop.explain("shop/deploy/frontend", "svc/data/db")
    assert e.source.owner == "Deployment/frontend"
    assert not e.reachable  # db admits only the api
