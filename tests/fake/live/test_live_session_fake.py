"""A node's nft session dying under a running cluster, through the session seam.

:class:`ClusterSync` asks every node's session to :meth:`revive` on each sync, the
periodic one too (kube-proxy's ``syncPeriod`` run), so a dead ``nft -i`` is noticed
without waiting for the next change: the session is replaced, the restart reported,
and every table replaced whole by the next (full) sync.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podnet.control.cluster import build_cluster
from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.transaction import Transaction
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.errors import NftError
from podnet.live.sync import ChangeTracker, ClusterSync, NodeTables
from podnet.manifests import load_paths

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""


class DyingSession(FakeNft):
    """A FakeNft that can die as an ``nft -i`` does: refuses everything until revived."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = False
        self.full_tables = 0  # transactions that (re)create a table: full syncs

    def run(self, tx: Transaction) -> None:
        if tx.ops and self.dead:
            raise NftError(["nft", "-i"], -1, "nft -i exited: ")
        if any(op.verb == "add" and op.kind == "table" for op in tx.ops):
            self.full_tables += 1
        super().run(tx)

    def listing(self, table: str) -> str | None:
        got = self.snapshot().get(table)
        return None if got is None else repr(got)

    def revive(self) -> str | None:
        if not self.dead:
            return None
        self.dead = False
        return "nft -i (pid 4242) killed by signal 9; started a new one (pid 4243)"


def _sync(
    tmp_path: Path, session: DyingSession, repairs: list[str], failures: list[Exception]
) -> tuple[str, ClusterSync]:
    """A one-node ClusterSync over ``session``, first sync done, periodic run at 20 Hz."""
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST)
    state = build_cluster(load_paths([str(path)]), 1)
    node = state.nodes[0].name
    tables = {
        node: NodeTables(ServiceProxy(session, freeze_gc=False), PolicyProxy(session), session)
    }
    sync = ClusterSync(
        ChangeTracker(state, {p.key: False for p in state.pods}),
        tables,
        tmp_path / "records.json",
        min_interval=0.0,
        max_interval=0.05,
        on_repair=repairs.append,
        on_failure=failures.append,
    )
    sync.sync()
    sync.start()
    return node, sync


def _wait(done: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
    return done()


def test_a_dead_session_is_revived_by_the_periodic_sync_and_everything_resynced(
    tmp_path: Path,
) -> None:
    session = DyingSession()
    repairs: list[str] = []
    failures: list[Exception] = []
    node, sync = _sync(tmp_path, session, repairs, failures)
    try:
        before = session.full_tables
        reference = session.snapshot()
        session.dead = True  # no change recorded: only the periodic run can notice
        deadline = time.monotonic() + 5
        while not repairs and time.monotonic() < deadline:
            time.sleep(0.01)
        assert repairs and f"node {node}: nft -i (pid 4242)" in repairs[0]
        assert "resyncing every table" in repairs[0]
        while session.full_tables < before + 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.full_tables == before + 3  # the proxy, policy and guard tables
        assert session.snapshot() == reference and not failures
    finally:
        sync.stop()


@pytest.mark.parametrize("edit", ["delete", "edit"])
def test_a_table_deleted_or_edited_by_someone_else_is_noticed_and_replaced(
    tmp_path: Path, edit: str
) -> None:
    session = DyingSession()
    repairs: list[str] = []
    failures: list[Exception] = []
    node, sync = _sync(tmp_path, session, repairs, failures)
    try:
        reference = session.snapshot()
        assert _wait(lambda: sync._digests_at == sync.syncs)  # a periodic check ran
        tx = Transaction("inet", "podnet-policy")
        if edit == "delete":
            tx.delete_table()
        else:
            tx.add_chain("someone-elses")
        FakeNft.run(session, tx)  # behind podnet's back
        assert session.snapshot() != reference
        assert _wait(lambda: bool(repairs) and session.snapshot() == reference)
        word = "deleted" if edit == "delete" else "changed"
        assert repairs == [
            f"node {node}: table inet podnet-policy was {word} by someone else; "
            "resyncing every table"
        ]
        assert not failures
    finally:
        sync.stop()


class CountedSession(DyingSession):
    """A session whose netns has a ruleset generation, as NftSession's reader: every
    commit moves it, podnet's own are remembered in ``ours``; listings are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.gen = 0
        self.ours: int | None = None
        self.listings = 0

    def run(self, tx: Transaction) -> None:
        super().run(tx)
        if tx.ops:
            self.gen += 1
            self.ours = self.gen

    def behind_podnets_back(self, tx: Transaction) -> None:
        FakeNft.run(self, tx)
        self.gen += 1

    def current_generation(self) -> int | None:
        return self.gen

    def listing(self, table: str) -> str | None:
        self.listings += 1
        return super().listing(table)


def test_with_the_generation_unchanged_the_periodic_checks_list_nothing(
    tmp_path: Path,
) -> None:
    session = CountedSession()
    repairs: list[str] = []
    failures: list[Exception] = []
    _, sync = _sync(tmp_path, session, repairs, failures)
    try:
        checks = sync._drift_checked
        assert _wait(lambda: sync._drift_checked > checks + 0.2)  # several idle checks
        assert session.listings == 0 and not repairs and not failures
    finally:
        sync.stop()


def test_a_moved_generation_has_the_tables_listed_and_a_deleted_one_replaced(
    tmp_path: Path,
) -> None:
    """(An edit found after a moved generation has no listing hash to differ from: it
    is caught by comparing the listing with what podnet wants, ``nft -j``, which this
    fake cannot list: tests/kernel/dataplane/test_guard_heal.py, generation.)"""
    session = CountedSession()
    repairs: list[str] = []
    failures: list[Exception] = []
    node, sync = _sync(tmp_path, session, repairs, failures)
    try:
        reference = session.snapshot()
        tx = Transaction("inet", "podnet-policy")
        tx.delete_table()
        session.behind_podnets_back(tx)
        assert _wait(lambda: bool(repairs) and session.snapshot() == reference)
        assert repairs == [
            f"node {node}: table inet podnet-policy was deleted by someone else; "
            "resyncing every table"
        ]
        assert session.listings > 0 and not failures
    finally:
        sync.stop()
