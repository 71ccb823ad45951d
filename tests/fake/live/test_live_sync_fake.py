"""The live cluster's sync path against the behavioural nft fake (no kernel needed).

:class:`SyncOnlyCluster` is a :class:`LiveCluster` whose nodes' Service proxy and
policy tables write to :class:`FakeNft` instead of an ``nft -i`` per node namespace;
everything from the readiness callback on is the real code: the callback records into
the change tracker, the paced :class:`ClusterSync` thread applies. Checked: a burst of
readiness flips from the runtime's driver thread costs a bounded number of syncs, none
applied in that thread, and the end state equals a one-shot sync of the final cluster;
a failed sync is counted and reported, and the next one is full.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podnet.control.cluster import build_cluster
from podnet.control.dns.lookup import build_records
from podnet.control.endpoints import compute_endpoints
from podnet.dataplane.dns import records as dns_records
from podnet.dataplane.guard.sync import GuardProxy
from podnet.dataplane.guard.table import guard_states
from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.policy.compile import policy_states
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.errors import NftError
from podnet.live.cluster import LiveCluster
from podnet.live.sync import ChangeTracker, NodeTables
from podnet.manifests import load_paths
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests

REPLICAS = 50
MANIFEST = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {REPLICAS}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: nginx, ports: [{{containerPort: 80}}]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-headless}}
spec: {{clusterIP: None, selector: {{app: web}}, ports: [{{port: 80}}]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: web}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress: [{{from: [{{podSelector: {{}}}}]}}]
"""
DRIVER = "podnet-runtime"  # the runtime's driver thread's name (runtime/loop.py)


class ThreadNft(FakeNft):
    """A FakeNft that notes which thread sent each transaction, and can refuse some."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.refuse = 0  # refuse this many of the next transactions

    def run(self, tx: Transaction) -> None:
        if tx.ops:
            self.threads.append(threading.current_thread().name)
        if tx.ops and self.refuse > 0:
            self.refuse -= 1
            raise NftError(["fake-nft"], 1, "Error: refused for the test")
        super().run(tx)


class SyncOnlyCluster(LiveCluster):
    """No sandbox, no runtime: the nodes' tables are fakes; the sync path is real."""

    fakes: dict[str, ThreadNft]

    def start(self) -> ClusterState:
        state = build_cluster(self.manifests, self.node_count)
        self.fakes = {n.name: ThreadNft() for n in state.nodes}
        tables = {
            name: NodeTables(ServiceProxy(fake, freeze_gc=False), PolicyProxy(fake))
            for name, fake in self.fakes.items()
        }
        self._start_sync(ChangeTracker(state, {p.key: False for p in state.pods}), tables)
        assert self.state is not None
        return self.state

    def close(self) -> None:
        self._closing = True
        if self.sync is not None:
            self.sync.stop()
        self._tmp.cleanup()


def manifests(tmp_path: Path) -> Manifests:
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST)
    return load_paths([str(path)])


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., SyncOnlyCluster]]:
    made: list[SyncOnlyCluster] = []

    def _make(min_interval: float = 0.02, max_interval: float = 1.0) -> SyncOnlyCluster:
        cls = type("Paced", (SyncOnlyCluster,), {"sync_intervals": (min_interval, max_interval)})
        cluster: SyncOnlyCluster = cls(manifests(tmp_path), nodes=2)
        made.append(cluster)
        cluster.start()
        return cluster

    yield _make
    for cluster in made:
        cluster.close()
    assert not any(t.name == "podnet-sync" for t in threading.enumerate())


def flip_in_driver(cluster: LiveCluster, flips: list[tuple[str, bool]]) -> float:
    """Call the readiness callback as the runtime does, from a thread named like its
    driver; the burst's duration in seconds."""
    took: list[float] = []

    def drive() -> None:
        t0 = time.monotonic()
        for key, ready in flips:
            cluster._on_ready(key, ready)
        took.append(time.monotonic() - t0)

    driver = threading.Thread(target=drive, name=DRIVER)
    driver.start()
    driver.join()
    return took[0]


def web_pods(cluster: LiveCluster) -> list[str]:
    assert cluster.state is not None
    return sorted(p.key for p in cluster.state.pods if p.labels.get("app") == "web")


def expected(cluster: SyncOnlyCluster, ready: set[str]) -> ClusterState:
    assert cluster.state is not None
    st = cluster.state
    eps = compute_endpoints(st.services, st.pods, {p.key: p.key in ready for p in st.pods})
    return dataclasses.replace(st, endpoints=eps)


def assert_applied(cluster: SyncOnlyCluster, want: ClusterState) -> None:
    """Every node's fake equals a one-shot sync of ``want``; so do state and DNS."""
    assert cluster.state is not None
    assert cluster.state.endpoints == want.endpoints
    per_node = policy_states(want, deny=cluster.deny)
    for node, fake in cluster.fakes.items():
        ref = FakeNft()
        ServiceProxy(ref, freeze_gc=False).sync_cluster(want)
        PolicyProxy(ref).sync(per_node[node])
        GuardProxy(ref).sync(guard_states(want)[node])
        assert fake.snapshot() == ref.snapshot(), node
    assert dns_records.load(cluster.records_path) == build_records(want)


def test_a_burst_of_50_flips_costs_a_bounded_number_of_syncs(
    make: Callable[..., SyncOnlyCluster],
) -> None:
    min_interval = 0.2
    cluster = make(min_interval=min_interval, max_interval=30.0)
    assert cluster.sync is not None
    pods = web_pods(cluster)
    assert len(pods) == REPLICAS
    before = cluster.sync.syncs
    took = flip_in_driver(cluster, [(k, True) for k in pods])
    assert cluster.wait_synced(10)
    # one sync at the first request, then at most one per min_interval of the burst
    # (with a burst shorter than min_interval, that is two in all)
    assert cluster.sync.syncs - before <= 1 + math.ceil(took / min_interval)
    assert cluster.sync.syncs - before < REPLICAS // 10
    assert_applied(cluster, expected(cluster, set(pods)))
    # nothing was applied in the driver thread: every transaction came from the sync's
    threads = {t for fake in cluster.fakes.values() for t in fake.threads}
    assert DRIVER not in threads
    assert threads == {"MainThread", "podnet-sync"}  # start()'s first sync, then paced
    assert cluster.sync.failures == 0 and cluster.failure is None


def test_flips_that_net_out_and_half_the_pods_going_unready(
    make: Callable[..., SyncOnlyCluster],
) -> None:
    cluster = make()
    pods = web_pods(cluster)
    flips = [(k, True) for k in pods] + [(k, False) for k in pods[::2]]
    flips += [(k, True) for k in pods[:3]] + [(k, False) for k in pods[:3]]
    flip_in_driver(cluster, flips)
    assert cluster.wait_synced(10)
    ready = set(pods) - set(pods[::2]) - set(pods[:3])
    assert_applied(cluster, expected(cluster, ready))


def test_the_handler_only_records_until_the_sync_runs(
    make: Callable[..., SyncOnlyCluster],
) -> None:
    cluster = make(min_interval=0.0, max_interval=30.0)
    assert cluster.sync is not None
    cluster.sync.stop()  # no thread: only an explicit sync applies anything
    transactions = {n: f.transactions for n, f in cluster.fakes.items()}
    state = cluster.state
    mark = cluster.sync_mark()
    flip_in_driver(cluster, [(k, True) for k in web_pods(cluster)])
    assert {n: f.transactions for n, f in cluster.fakes.items()} == transactions
    assert cluster.state is state and not cluster.synced(cluster.sync_mark())
    assert cluster.synced(mark)
    cluster.sync.sync()
    assert cluster.synced(cluster.sync_mark())
    assert_applied(cluster, expected(cluster, set(web_pods(cluster))))


def test_a_failed_sync_is_counted_reported_and_followed_by_a_full_one(
    make: Callable[..., SyncOnlyCluster],
) -> None:
    cluster = make(min_interval=0.0, max_interval=30.0)
    sync = cluster.sync
    assert sync is not None
    full_before = sync.full_syncs
    node = sorted(cluster.fakes)[0]
    cluster.fakes[node].refuse = 10**6  # partial syncs and the proxy's full fallback
    pods = web_pods(cluster)
    flip_in_driver(cluster, [(pods[0], True)])
    with pytest.raises(NftError):
        cluster.wait_synced(10)
    assert sync.failures >= 1 and isinstance(sync.last_error, NftError)
    with pytest.raises(NftError):
        cluster.check()  # podnet run raises this from its waits
    cluster.fakes[node].refuse = 0
    assert cluster.wait_synced(10)  # asks for a retry, which is a full sync
    assert sync.full_syncs == full_before + 1
    assert_applied(cluster, expected(cluster, {pods[0]}))


def test_the_periodic_run_picks_up_a_change_recorded_without_a_wake_up(
    make: Callable[..., SyncOnlyCluster],
) -> None:
    cluster = make(min_interval=0.0, max_interval=0.05)
    assert cluster._tracker is not None
    pods = web_pods(cluster)
    cluster._tracker.record_ready(pods[0], True)  # no request: a lost wake-up
    mark = cluster.sync_mark()
    deadline = time.monotonic() + 10
    while not cluster.synced(mark) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cluster.synced(mark)
    assert_applied(cluster, expected(cluster, {pods[0]}))


def test_a_failed_records_write_is_not_swallowed(
    make: Callable[..., SyncOnlyCluster], tmp_path: Path
) -> None:
    cluster = make(min_interval=0.0, max_interval=30.0)
    assert cluster.sync is not None
    good = cluster.sync.records_path
    cluster.sync.records_path = tmp_path / "gone" / "records.json"
    flip_in_driver(cluster, [(web_pods(cluster)[0], True)])
    with pytest.raises(OSError):
        cluster.wait_synced(10)
    assert cluster.sync.failures >= 1 and isinstance(cluster.failure, OSError)
    cluster.sync.records_path = good
    assert cluster.wait_synced(10)
    assert_applied(cluster, expected(cluster, {web_pods(cluster)[0]}))
