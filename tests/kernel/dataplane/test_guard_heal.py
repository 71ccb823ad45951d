"""The self-healing data plane on real nft: ClusterSync over a node's real ``nft -i``.

A real sandbox node with two pods; :class:`ClusterSync` (the one ``podnet run`` and
``podnet up`` use) over an :class:`NftSession` entered into the node with ``nsenter``.
Periods are set so each repair path is the only one that can explain the result: a
killed session is replaced at once by the pidfd watcher (the periodic run is 30 s
away); an element slipped into the guard set before the first listing hash is caught
by comparing that new baseline with what podnet wants; under constant changes (no idle
run, so no hash compared) by the ``sync_period`` comparison; a deleted table by the
drift check. Each repair is reported and the tables are what podnet wants afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.sandbox import Driver, driver_argv, driver_env, require_kernel

from podnet.dataplane.nft.generation import Generation
from podnet.dataplane.nft.session import NftSession
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.dataplane.sandbox.driver import make_nodes
from podnet.live.sync import ChangeTracker, ClusterSync, NodeTables
from podnet.model.cluster import ClusterState
from podnet.model.objects import Container, Namespace, Pod

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft"
    ),
]

IPS = {"a": "10.244.0.2", "b": "10.244.0.3"}
SLIPPED = '{ "pn00000000" . 10.244.0.2 }'  # a pair podnet never made: pod a's IP, a veth of none


@dataclass
class Healing:
    state: ClusterState
    session: NftSession
    node: list[str]  # nsenter prefix into node-0
    records: Path
    repairs: list[str] = field(default_factory=list)
    syncs: list[ClusterSync] = field(default_factory=list)

    def make_sync(self, max_interval: float) -> ClusterSync:
        """The ClusterSync podnet runs, over this node's session, first sync done."""
        proxies = NodeTables(
            ServiceProxy(self.session, freeze_gc=False), PolicyProxy(self.session), self.session
        )
        sync = ClusterSync(
            ChangeTracker(self.state, {}),
            {"node-0": proxies},
            self.records,
            min_interval=0.0,
            max_interval=max_interval,
            on_repair=self.repairs.append,
        )
        self.syncs.append(sync)
        sync.sync()
        return sync

    def nft(self, *argv: str) -> str:
        return subprocess.run(
            [*self.node, "nft", *argv], check=True, capture_output=True, text=True
        ).stdout

    def guard_elements(self) -> list[object]:
        """The guard set's elements; none while the table is not there (yet)."""
        try:
            out = json.loads(self.nft("-j", "list", "set", "inet", "podnet-guard", "pod-sources"))
        except subprocess.CalledProcessError:
            return []
        sets = [o["set"] for o in out["nftables"] if "set" in o]
        return list(sets[0].get("elem", ()))


def wait(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    return cond()


@pytest.fixture(params=["generation", "listings"])
def healing(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Healing]:
    """node-0 with two pods; its session reads the netns's ruleset generation (as
    LiveCluster's do), or not (every idle check lists every table)."""
    require_kernel()
    d = Driver(driver_argv(), driver_env())
    h: Healing | None = None
    try:
        d.ok(op="nodes", n=1)
        pods = [
            {"namespace": "default", "name": k, "node": "node-0", "ip": ip} for k, ip in IPS.items()
        ]
        d.ok(op="pods", pods=pods)
        netns = f"/proc/{d.ok(op='pids')['pids']['node/node-0']}/ns/net"
        node = ["nsenter", f"--net={netns}"]
        state = ClusterState(
            tuple(make_nodes(1)),
            (Namespace("default", {"kubernetes.io/metadata.name": "default"}),),
            tuple(
                Pod("default", k, {}, (Container("c", "x"),), ip=ip, node="node-0")
                for k, ip in IPS.items()
            ),
            (),
            (),
        )
        gen = Generation(netns) if request.param == "generation" else None
        h = Healing(state, NftSession(tuple(node), generation=gen), node, tmp_path / "records.json")
        yield h
    finally:
        if h is not None:
            for sync in h.syncs:
                sync.stop()
            h.session.close()
        d.call(op="close")
        d.kill()


def test_a_killed_session_is_replaced_at_once_and_the_tables_resynced(healing: Healing) -> None:
    sync = healing.make_sync(max_interval=30.0)
    sync.start()
    old = healing.session.proc.pid
    healing.nft("delete", "table", "inet", "podnet-guard")  # only a full sync restores it
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    assert wait(lambda: bool(healing.repairs), 5), "no repair reported"
    took = time.monotonic() - t0
    assert f"nft -i (pid {old}) killed by signal 9; started a new one" in healing.repairs[0]
    assert took < 2, took  # the watcher, not the 30 s periodic run
    assert healing.session.proc.pid != old and healing.session.proc.poll() is None
    assert wait(lambda: len(healing.guard_elements()) == 2, 5)


def test_an_element_slipped_in_right_after_a_sync_is_caught_at_the_first_check(
    healing: Healing,
) -> None:
    """A listing hash taken after the edit would hold the edit as its reference: a new
    baseline is compared with what podnet wants before it is trusted."""
    sync = healing.make_sync(max_interval=30.0)
    healing.nft("add", "element", "inet", "podnet-guard", "pod-sources", SLIPPED)
    assert len(healing.guard_elements()) == 3
    sync.sync()  # an idle run: the first drift check since the sync
    assert len(healing.repairs) == 1, healing.repairs
    assert (
        "table inet podnet-guard set pod-sources has 1 element(s) podnet did not add"
        in (healing.repairs[0])
    )
    assert len(healing.guard_elements()) == 2  # the same run resynced in full


def test_under_constant_changes_the_sync_period_comparison_catches_an_edit(
    healing: Healing,
) -> None:
    """While changes keep coming no run is idle, so no listing hash is compared; the
    comparison with what podnet wants runs every ``sync_period`` all the same."""
    sync = healing.make_sync(max_interval=0.05)
    sync.sync_period = 0.5
    stop = threading.Event()

    def flip() -> None:  # a recorded pod change never nets out, unlike a readiness flip
        while not stop.wait(0.01):
            sync.tracker.record_pods(healing.state)
            sync.request()

    flipper = threading.Thread(target=flip)
    sync.start()
    flipper.start()
    try:
        time.sleep(0.2)
        healing.nft("add", "element", "inet", "podnet-guard", "pod-sources", SLIPPED)
        assert wait(lambda: bool(healing.repairs), 5), "the edit was not noticed"
        assert "set pod-sources has 1 element(s) podnet did not add" in healing.repairs[0]
        assert wait(lambda: len(healing.guard_elements()) == 2, 5)
    finally:
        stop.set()
        flipper.join()


def test_a_deleted_table_is_restored(healing: Healing) -> None:
    sync = healing.make_sync(max_interval=0.05)
    sync.start()
    healing.nft("delete", "table", "inet", "podnet-policy")
    assert wait(lambda: bool(healing.repairs), 5)
    assert "node node-0: table inet podnet-policy was deleted by someone else" in healing.repairs[0]
    assert wait(lambda: "table inet podnet-policy" in healing.nft("list", "tables"), 5)


def test_quiet_checks_list_no_table_while_the_generation_is_ours(healing: Healing) -> None:
    """The idle drift checks of a cluster nobody touches: with the generation read,
    no ``nft list`` at all (each was a process listing a whole table); without, each
    check lists every table."""
    sync = healing.make_sync(max_interval=0.05)
    listed: list[str] = []
    listing = healing.session.listing

    def counted(table: str, *flags: str) -> str | None:
        listed.append(table)
        return listing(table, *flags)

    healing.session.listing = counted  # type: ignore[method-assign]
    for _ in range(5):
        time.sleep(0.06)
        sync.sync()
    if healing.session.generation is not None:
        assert healing.session.ours == healing.session.current_generation()
        assert listed == []
    else:
        assert len(listed) >= 3  # the proxy, policy and guard tables at least once
    assert not healing.repairs
