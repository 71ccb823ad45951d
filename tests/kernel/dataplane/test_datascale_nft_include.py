"""A large transaction through :class:`NftSession` goes by ``include`` of the session's
memfd (not typed into nft -i's line editor): applied whole, refused whole, classified
as before, and nothing of it left in the filesystem.

Runs in a scratch network namespace held by a ``sleep`` of this test (``unshare --net``),
entered with nsenter as podnet enters a node: the host's ruleset is never touched.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from support.sandbox import require_kernel

from podnet.dataplane.nft import drift
from podnet.dataplane.nft.session import INCLUDE_OVER, NftSession
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.proxy.rules import FAMILY, TABLE
from podnet.dataplane.proxy.services import compile_services
from podnet.dataplane.proxy.sync import ServiceProxy, full_transaction
from podnet.errors import NftNotFoundError
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service, ServicePort

pytestmark = pytest.mark.kernel

SCRATCH_TABLE = ("inet", "podnet-datascale")


@pytest.fixture
def netns() -> Iterator[tuple[str, ...]]:
    """nsenter's prefix into a scratch netns that lives as long as the test."""
    require_kernel()
    holder = subprocess.Popen(
        ["unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 600"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
        yield ("nsenter", f"--net=/proc/{holder.pid}/ns/net", "--")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def _big(n: int, *, broken: bool = False) -> Transaction:
    tx = Transaction(*SCRATCH_TABLE)
    tx.add_table()
    tx.add_set("ips", "type ipv4_addr;")
    tx.add_elements("ips", ((f"10.{i // 250}.{i % 250}.1", None) for i in range(n)))
    if broken:  # the kernel refuses the last command: nothing of the batch may land
        tx.delete_chain("no-such-chain")
    return tx


def _elements(session: NftSession) -> int:
    listing = session.listing(" ".join(SCRATCH_TABLE))
    return 0 if listing is None else len(re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", listing))


def test_a_large_transaction_is_applied_whole_through_the_memfd(
    netns: tuple[str, ...],
) -> None:
    tx = _big(600)
    assert len(tx.render()) > INCLUDE_OVER
    with NftSession(netns) as session:
        session.run(tx)
        assert _elements(session) == 600
        # the session's memfd is nft's only extra descriptor, and no path holds it
        fds = os.listdir(f"/proc/{session.proc.pid}/fd")
        targets = [os.readlink(f"/proc/{session.proc.pid}/fd/{fd}") for fd in fds]
        assert [t for t in targets if "podnet-nft-tx" in t] == ["/memfd:podnet-nft-tx (deleted)"]
        # a smaller one afterwards is typed in as before, and a large one again
        small = Transaction(*SCRATCH_TABLE)
        small.add_element("ips", "192.168.0.1")
        session.run(small)
        session.run(_big(700))  # add table/set again: no-ops; 100 more elements
        assert _elements(session) == 701


def test_a_refused_large_transaction_leaves_nothing_and_is_classified(
    netns: tuple[str, ...],
) -> None:
    with NftSession(netns) as session:
        with pytest.raises(NftNotFoundError) as raised:
            session.run(_big(600, broken=True))
        assert raised.value.errno == errno.ENOENT
        assert session.listing(" ".join(SCRATCH_TABLE)) is None  # not even the table
        session.run(_big(300))  # the session still works, and the memfd is rewritten
        assert _elements(session) == 300


def _web(n: int, first: int = 0) -> ClusterState:
    """One Service with ``n`` ready endpoints on port 80 (a Deployment scaling), pods
    numbered from ``first``."""
    web = Service(
        "default",
        "web",
        selector={"app": "web"},
        ports=(ServicePort(80, 80),),
        cluster_ip="10.96.0.20",
    )
    eps = tuple(
        Endpoint(f"default/web-{i}", f"10.244.{i // 250}.{i % 250 + 2}", "node-0", 80, "TCP")
        for i in range(first, first + n)
    )
    return ClusterState((), (), (), (web,), (), {web.key: {"": eps}})


def test_a_scaling_service_moves_its_elements_and_the_kernel_matches_a_full_sync(
    netns: tuple[str, ...],
) -> None:
    """Partial syncs of a Service growing 0 -> 40 -> 400 -> 1000 endpoints, five of them
    replaced (same count: element deletes and adds in the same map), and back to 7
    (each new count a new per-count map; the old one deleted with its elements, which
    are no longer deleted one by one first; the large ones sent through the memfd):
    after each, the kernel's table is what a full sync of that state would make."""
    with NftSession(netns) as session:
        proxy = ServiceProxy(session, freeze_gc=False)
        for n, first in ((0, 0), (40, 0), (400, 0), (1000, 0), (1000, 5), (7, 0)):
            proxy.sync_cluster(_web(n, first))
            listing = session.listing_json(f"{FAMILY} {TABLE}")
            assert listing is not None
            got = drift.shape_of_listing(listing, FAMILY, TABLE)
            want = drift.shape_of_transaction(full_transaction(compile_services(_web(n, first))))
            assert drift.compare(want, got) is None, n
        assert (proxy.full_syncs, proxy.failed_syncs) == (1, 0)
