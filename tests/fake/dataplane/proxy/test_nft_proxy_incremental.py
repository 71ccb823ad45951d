"""The incremental proxy path: handlers + sync_changes reach what a full sync reaches,
with operations proportional to the change, not to the cluster."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from support.proxy_oracle import oracle_desired, plain

from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.proxy import fragment as nft_proxy_fragment
from podnet.dataplane.proxy import table as nft_proxy_table
from podnet.dataplane.proxy.fragment import Fragment
from podnet.dataplane.proxy.rules import FAMILY, TABLE
from podnet.dataplane.proxy.services import ProxyState, ServicePortRule, compile_services
from podnet.dataplane.proxy.sync import ServiceProxy, full_sync
from podnet.dataplane.proxy.table import desired
from podnet.errors import ClusterError, NftNotFoundError
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service, ServicePort

EpMap = dict[str, dict[str, tuple[Endpoint, ...]]]


def ep(ip: str, port: int = 8080, proto: str = "TCP", ready: bool = True) -> Endpoint:
    return Endpoint(f"bench/{ip}", ip, "node-0", port, proto, ready)


def svc_ip(i: int) -> str:
    return f"10.96.{i // 256}.{i % 256}"


def big(n: int) -> tuple[tuple[Service, ...], EpMap]:
    services = tuple(
        Service("b", f"s{i}", ports=(ServicePort(80, 8080),), cluster_ip=svc_ip(i))
        for i in range(n)
    )
    eps: EpMap = {
        f"b/s{i}": {
            "": (ep(f"10.244.{i // 128}.{2 * (i % 128)}"), ep(f"10.245.{i // 256}.{i % 256}"))
        }
        for i in range(n)
    }
    return services, eps


def state(services: tuple[Service, ...], eps: EpMap) -> ClusterState:
    return ClusterState((), (), (), services, (), eps)


def reference(st: ClusterState) -> dict[str, object]:
    """The fake after a full sync of ``st``; the table is also checked against the
    independent whole-table oracle (the first, non-incremental implementation)."""
    ps = compile_services(st)
    assert plain(desired(ps)) == oracle_desired(ps)
    fake = FakeNft()
    full_sync(fake, ps)
    return fake.snapshot()


def test_one_endpoint_change_at_2000_services_is_one_small_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services, eps = big(2000)
    fake = FakeNft()
    proxy = ServiceProxy(fake)
    proxy.sync_cluster(state(services, eps))
    assert (proxy.full_syncs, fake.transactions) == (1, 1)
    calls: list[str] = []
    real = nft_proxy_fragment.fragment

    def counting(
        r: ServicePortRule, owns: bool, owns_np: bool, front: str | None = None
    ) -> Fragment:
        calls.append(r.service)
        return real(r, owns, owns_np, front)

    monkeypatch.setattr(nft_proxy_table, "fragment", counting)
    new_eps = (eps["b/s7"][""][0], ep("10.246.0.9"))
    proxy.update_endpoints("b/s7", "", new_eps)
    assert proxy.sync_changes() == 2  # be-2 slot 1: one delete + one add
    assert calls == ["b/s7"]  # only the changed Service was recompiled
    assert (proxy.full_syncs, fake.transactions, fake.last_ops) == (1, 2, 2)
    eps2 = dict(eps)
    eps2["b/s7"] = {"": new_eps}
    assert fake.snapshot() == reference(state(services, eps2))


def test_count_change_delete_and_readd_through_handlers() -> None:
    services, eps = big(5)
    fake = FakeNft()
    proxy = ServiceProxy(fake)
    proxy.sync_cluster(state(services, eps))
    proxy.update_endpoints("b/s1", "", (ep("10.244.9.9"),))  # 2 -> 1 endpoint
    proxy.delete_service("b/s2")
    proxy.update_service(services[3], {"": ()})  # no endpoints: refused, not routed
    proxy.sync_changes()
    eps2 = dict(eps)
    eps2["b/s1"] = {"": (ep("10.244.9.9"),)}
    eps2["b/s3"] = {"": ()}
    st = state(tuple(s for s in services if s.name != "s2"), eps2)
    assert fake.snapshot() == reference(st)
    assert "be-1" in fake.table(FAMILY, TABLE).sets
    assert proxy.sync_changes() == 0  # nothing recorded, nothing sent
    assert fake.transactions == 2


def test_update_endpoints_of_an_unknown_service_is_a_cluster_error() -> None:
    with pytest.raises(ClusterError):
        ServiceProxy(FakeNft()).update_endpoints("x/y", "", ())


def test_sync_cluster_skips_the_same_objects_and_removes_gone_services() -> None:
    services, eps = big(50)
    fake = FakeNft()
    proxy = ServiceProxy(fake)
    proxy.sync_cluster(state(services, eps))
    assert proxy.sync_cluster(state(services, eps)) == 0
    assert fake.transactions == 1
    proxy.sync_cluster(state(services[1:], eps))
    assert fake.snapshot() == reference(state(services[1:], eps))


class FailingOnce(FakeNft):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    def run(self, tx: Transaction) -> None:
        if self.fail_next:
            self.fail_next = False
            raise NftNotFoundError(["fake"], 1, "No such file or directory")
        super().run(tx)


def test_failed_partial_sync_falls_back_to_a_full_sync() -> None:
    services, eps = big(20)
    fake = FailingOnce()
    proxy = ServiceProxy(fake)
    proxy.sync_cluster(state(services, eps))
    fake.fail_next = True
    proxy.update_endpoints("b/s3", "", (ep("10.250.0.1"),))
    proxy.sync_changes()
    assert proxy.full_syncs == 2 and proxy.failed_syncs == 1
    assert isinstance(proxy.last_error, NftNotFoundError)
    eps2 = dict(eps)
    eps2["b/s3"] = {"": (ep("10.250.0.1"),)}
    assert fake.snapshot() == reference(state(services, eps2))


def test_whole_state_sync_and_handlers_mix() -> None:
    services, eps = big(10)
    fake = FakeNft()
    proxy = ServiceProxy(fake)
    proxy.sync(compile_services(state(services, eps)))
    proxy.update_service(services[0], {"": (ep("10.250.0.2"),)})
    proxy.sync_changes()
    eps2 = dict(eps)
    eps2["b/s0"] = {"": (ep("10.250.0.2"),)}
    assert fake.snapshot() == reference(state(services, eps2))
    proxy.sync(ProxyState())
    assert fake.snapshot() == reference(state((), {}))
    assert proxy.full_syncs == 1


# -- random sequences of changes, with the collisions a broken cluster could have -------
IPS = [f"10.96.0.{i}" for i in range(1, 5)]  # few ClusterIPs: Services may collide
PODS = [f"10.244.0.{i}" for i in range(2, 7)]


@hs.composite
def services(draw: hs.DrawFn, name: str) -> tuple[Service, dict[str, tuple[Endpoint, ...]]]:
    kind = draw(hs.sampled_from(["ClusterIP", "NodePort"]))
    ports = []
    eps: dict[str, tuple[Endpoint, ...]] = {}
    for j, (port, proto) in enumerate(
        draw(
            hs.lists(
                hs.tuples(hs.sampled_from([80, 53]), hs.sampled_from(["TCP", "UDP"])),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
    ):
        pname = f"p{j}"
        node_port = draw(hs.sampled_from([30000, 30001, 30002]))
        ports.append(ServicePort(port, 8080, proto, pname, node_port=node_port))
        picks = draw(hs.lists(hs.sampled_from(PODS), max_size=4, unique=True))
        eps[pname] = tuple(
            ep(ip, draw(hs.sampled_from([8080, 9090])), proto, draw(hs.booleans())) for ip in picks
        )
    affinity = draw(hs.sampled_from(["None", "None", "ClientIP"]))
    svc = Service(
        "d",
        name,
        type=kind,
        ports=tuple(ports),
        cluster_ip=draw(hs.sampled_from(IPS)),
        session_affinity=affinity,
        session_affinity_timeout=draw(hs.sampled_from([60, 120])),
    )
    return svc, eps


NAMES = ["a", "b", "c", "d"]
steps = hs.lists(
    hs.tuples(hs.sampled_from(NAMES), hs.one_of(hs.none(), hs.deferred(lambda: services("x")))),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_any_sequence_of_changes_reaches_the_full_sync_state(
    seq: list[tuple[str, tuple[Service, dict[str, tuple[Endpoint, ...]]] | None]],
) -> None:
    fake = FakeNft()
    proxy = ServiceProxy(fake)
    current: dict[str, tuple[Service, dict[str, tuple[Endpoint, ...]]]] = {}
    proxy.sync_cluster(state((), {}))
    for i, (name, change) in enumerate(seq):
        if change is None:
            current.pop(name, None)
            proxy.delete_service(f"d/{name}")
        else:
            svc = Service(**{**change[0].__dict__, "name": name})
            current[name] = (svc, change[1])
            proxy.update_service(svc, change[1])
        if i % 2 == 0 or i == len(seq) - 1:  # sometimes two changes in one sync
            proxy.sync_changes()
            st = state(
                tuple(s for s, _ in current.values()),
                {s.key: e for s, e in current.values()},
            )
            assert fake.snapshot() == reference(st)
    assert proxy.full_syncs == 1
