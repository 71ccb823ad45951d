"""Handlers record; one paced sync applies (STYLE.md principle 5).

kube-proxy's shape (``pkg/proxy/nftables/proxier.go``): ``OnServiceUpdate`` and
``OnEndpointSliceUpdate`` only record the change in a change tracker and ask for a
sync; ``syncProxyRules``, paced by a bounded-frequency runner, computes and applies
everything once. Here the runtime's readiness callback and the pod changes of
:class:`~podnet.live.cluster.LiveCluster` record into a :class:`ChangeTracker`, and
:class:`ClusterSync` runs from its own thread (never the runtime's driver thread):
endpoints computed once (the EndpointSlice controller's job,
:mod:`podnet.control.endpoints`), every node's Service proxy and policy tables applied,
the DNS records file written once.

Waiting for the data plane: every recorded change bumps a sequence number;
:meth:`ClusterSync.synced` / :meth:`ClusterSync.wait_synced` tell whether a sync that
began after a given mark has been applied. The published :attr:`ClusterSync.state`
is always one whose nft elements and DNS records are in place.

Failures: a failed sync is counted, kept in :attr:`ClusterSync.last_error`, handed to
``on_failure``, and the next sync is a full one (every node's policy tables compiled,
every Service compared, DNS rewritten; each proxy also replaces its whole kernel table
after a failure of its own, as kube-proxy does). The runner's periodic run retries it.

Repairs: a watcher thread wakes the sync as soon as a node's ``nft -i`` session exits
(a pidfd each), and every sync asks each session to revive itself (a killed ``nft -i``
is replaced). The periodic run checks, at most once per ``max_interval`` (while
changes flow, after a rest of DRIFT_REST times what the last check took), that every
table we applied (Service proxy, policy, guard) still exists and lists as when last
checked (``ClusterSync._drift``), listed only on a node whose ruleset generation moved
since podnet's own last transaction there (:mod:`podnet.dataplane.nft.generation`);
and once per ``sync_period`` (kube-proxy's ``syncPeriod``) that each matches what
podnet wants, element by element (:mod:`podnet.dataplane.nft.drift`). Any problem
makes the next sync a full one on every node, reported through ``on_repair``. And, as
kube-proxy, a full sync once per ``full_sync_period`` whatever the checks say.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from podnet.control.dns.lookup import build_records
from podnet.control.endpoints import compute_endpoints
from podnet.dataplane.dns import records as dns_records
from podnet.dataplane.guard.sync import GuardProxy
from podnet.dataplane.guard.table import guard_state, guard_states
from podnet.dataplane.nft import drift
from podnet.dataplane.nft.syncer import TableSyncer
from podnet.dataplane.policy.compile import policy_states
from podnet.dataplane.policy.sync import PolicyProxy
from podnet.dataplane.proxy.sync import ServiceProxy
from podnet.dataplane.runtime.loop import pidfd
from podnet.errors import PodnetError
from podnet.live.bounded_runner import BoundedFrequencyRunner
from podnet.model.cluster import ClusterState
from podnet.model.objects import Pod

# kube-proxy defaults to minSyncPeriod 1 s, as its syncs cost up to seconds; a podnet
# sync of an endpoint change costs milliseconds, and podnet run's start-up waits on it.
MIN_INTERVAL = 0.02
MAX_INTERVAL = 1.0  # a change recorded without a wake-up waits at most this long
# After a sync that took d seconds, the next waits at least REST * d after it ended
# (BoundedFrequencyRunner's rest): a sync over a thousand pods takes tens of ms, and
# one per readiness flip would keep a core busy for the same final result. The rest
# bounds the sync thread's share of a core while changes flow (1 / (1 + REST)), not
# its total: part of a sync's work grows with the cluster, not the change (a Service
# whose ready count changes moves all its endpoints to another map, dataplane/proxy;
# endpoints and DNS records are recomputed), so cheaper syncs only made more of them.
# 3: a quarter of a core at most; a 1,000-pod scale-up (bench_datascale.py) made 26
# syncs instead of 92, 15 s of CPU instead of 16.5, and ran its pods 3 s sooner.
REST = 3.0
# After a drift check (listings of every table) that took d seconds, none for
# DRIFT_REST * d while syncs keep applying changes: it competes with them (and with
# the API) for the same core.
DRIFT_REST = 9.0
# kube-proxy's syncPeriod default (pkg/proxy/apis/config/v1alpha2/defaults.go: 30 s):
# how often the tables are compared with what podnet wants, element by element.
SYNC_PERIOD = 30.0
# kube-proxy's proxyutil.FullSyncPeriod (pkg/proxy/util, used by
# pkg/proxy/nftables/proxier.go syncProxyRules): a full sync at least hourly.
FULL_SYNC_PERIOD = 3600.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """What a sync works from: the desired cluster and what changed since the last."""

    seq: int  # changes recorded up to this snapshot
    state: ClusterState  # nodes, pods (with IPs), Services; endpoints not computed
    ready: Mapping[str, bool]  # pod key -> Ready condition
    flipped: frozenset[str]  # pods whose readiness differs from the last snapshot's
    pods_changed: bool  # pods added, removed, recreated or re-addressed

    @property
    def empty(self) -> bool:
        return not self.flipped and not self.pods_changed


class ChangeTracker:
    """Records readiness flips and pod changes (thread-safe; never blocks for long).

    As kube-proxy's change trackers, a pod that flips and flips back between two
    syncs nets out to no change.
    """

    def __init__(self, state: ClusterState, ready: Mapping[str, bool]) -> None:
        self._lock = threading.Lock()
        self._state = state
        self._ready = dict(ready)
        self._before: dict[str, bool] = {}  # pod -> readiness at the last snapshot
        self._pods_changed = False
        self._seq = 0

    @property
    def seq(self) -> int:
        """How many changes were recorded so far (a mark for :meth:`ClusterSync.synced`)."""
        with self._lock:
            return self._seq

    def desired(self) -> ClusterState:
        with self._lock:
            return self._state

    def record_ready(self, key: str, ready: bool) -> bool:
        """Pod ``key``'s Ready condition is now ``ready``; whether that is a change."""
        with self._lock:
            return self._set_ready(key, ready)

    def _set_ready(self, key: str, ready: bool) -> bool:
        before = self._ready.get(key, False)
        if before == ready:
            return False
        self._before.setdefault(key, before)
        if self._before[key] == ready:
            del self._before[key]  # back to what the last snapshot saw
        self._ready[key] = ready
        self._seq += 1
        return True

    def record_pods(self, state: ClusterState, not_ready: Iterable[str] = ()) -> None:
        """The pods changed (added, removed, recreated, new IPs): ``state`` is the
        desired cluster now, and the pods ``not_ready`` start over as not Ready."""
        with self._lock:
            self._state = state
            for key in not_ready:
                self._set_ready(key, False)
            self._pods_changed = True
            self._seq += 1

    def take(self) -> Snapshot:
        """Everything a sync needs, and start recording afresh."""
        with self._lock:
            snap = Snapshot(
                self._seq,
                self._state,
                dict(self._ready),
                frozenset(self._before),
                self._pods_changed,
            )
            self._before.clear()
            self._pods_changed = False
            return snap


class Revivable(Protocol):
    """A node's nft session (:class:`~podnet.dataplane.nft.session.NftSession`): starts
    itself again if it died, and says so once; lists a table (None: absent)."""

    def revive(self) -> str | None: ...

    def listing(self, table: str) -> str | None: ...


@dataclass(frozen=True)
class NodeTables:
    """One node's nftables appliers (each owns its own table, STYLE.md principle 8),
    and the session they share, checked on every sync. ``guard`` (anti-spoofing,
    :mod:`podnet.dataplane.guard`): when None, :class:`ClusterSync` gives the node one
    on the policy table's runner (unless its ``guard_pods`` is off)."""

    services: ServiceProxy
    policies: PolicyProxy
    session: Revivable | None = None
    guard: GuardProxy | None = None

    def syncers(self) -> list[TableSyncer]:
        tables = (self.services, self.policies, self.guard)
        return [t.syncer for t in tables if t is not None]


class ClusterSync:
    """The one place that applies the cluster's decisions to every node and to DNS.

    Call :meth:`sync` once in the caller's thread for the first, full sync (it raises),
    then :meth:`start` the paced thread; handlers call :meth:`request` after recording.
    :meth:`stop` before tearing down what the sync writes to.
    """

    guard_pods = True  # every node gets an anti-spoofing table (off: bench_guard.py)
    sync_period = SYNC_PERIOD
    full_sync_period = FULL_SYNC_PERIOD

    def __init__(
        self,
        tracker: ChangeTracker,
        tables: Mapping[str, NodeTables],
        records_path: Path,
        *,
        deny: str = "drop",
        min_interval: float = MIN_INTERVAL,
        max_interval: float = MAX_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        on_synced: Callable[[ClusterState], None] | None = None,
        on_failure: Callable[[Exception], None] | None = None,
        on_repair: Callable[[str], None] | None = None,
    ) -> None:
        self.tracker = tracker
        self.on_repair = on_repair  # one line per repair (a restarted session, drift)
        self.repairs = 0
        self.tables = {
            node: t
            if t.guard is not None or not self.guard_pods
            else dataclasses.replace(t, guard=GuardProxy(t.policies.runner))
            for node, t in tables.items()
        }
        self.records_path = records_path
        self.deny = deny
        self.on_synced, self.on_failure = on_synced, on_failure
        self.runner = BoundedFrequencyRunner(
            "podnet-sync", self._paced, min_interval, max_interval, clock, rest=REST
        )
        self.clock = clock
        self.drift_interval = max_interval  # at most one drift check per periodic run
        self._drift_checked = -math.inf
        # (node, table) -> (syncer.applied when taken, listing hash)
        self._digests: dict[tuple[str, str], tuple[int, int]] = {}
        self._digests_at = -1  # self.syncs at the last check
        self._drift_rest_until = -math.inf  # no drift check before (DRIFT_REST)
        self._snap_seq = -1  # the tracker's seq in the snapshot of the sync in progress
        self._verified = clock()  # the last comparison with what podnet wants
        self._last_full = clock()  # the last full sync (FULL_SYNC_PERIOD)
        self._watch_pipe: tuple[int, int] | None = None
        self._watcher: threading.Thread | None = None
        self.state: ClusterState | None = None  # the last state applied in full
        self.syncs = 0  # syncs that applied something
        self.full_syncs = 0
        self.failures = 0
        self.last_error: Exception | None = None
        self._applied_seq = -1
        self._attempts = 0  # syncs begun
        self._failed_attempt = 0  # the number of the last one that failed
        self._full = True  # the first sync and the one after any failure
        self._cond = threading.Condition()
        self._one_at_a_time = threading.Lock()

    # -- the thread -----------------------------------------------------------------------
    def request(self) -> None:
        self.runner.run()

    def start(self) -> None:
        self.runner.start()
        if any(isinstance(getattr(t.session, "pid", None), int) for t in self.tables.values()):
            self._watch_pipe = os.pipe()
            self._watcher = threading.Thread(
                target=self._watch_sessions, name="podnet-nft-watch", daemon=True
            )
            self._watcher.start()

    def stop(self) -> bool:
        """Stop the threads after the sync in progress; whether they have ended."""
        if self._watch_pipe is not None and self._watcher is not None:
            os.write(self._watch_pipe[1], b"x")
            self._watcher.join(5)
            for fd in self._watch_pipe:
                os.close(fd)
            self._watch_pipe = None
        return self.runner.stop()

    def _watch_sessions(self) -> None:
        """Wake the sync as soon as a node's ``nft -i`` exits (its pidfd turns readable),
        so the session is replaced and the tables resynced at once, not at the next
        periodic run. A session being replaced has no pid: looked up again each second."""
        assert self._watch_pipe is not None
        stop = self._watch_pipe[0]
        while True:
            fds: list[int] = []
            for t in self.tables.values():
                pid = getattr(t.session, "pid", None)
                fd = pidfd(pid) if isinstance(pid, int) else None
                if fd is not None:
                    fds.append(fd)
            # poll, not select: with a thousand containers (a pipe and a pidfd each)
            # these fds are numbered past select's FD_SETSIZE of 1024 (ValueError)
            poller = select.poll()
            for fd in (stop, *fds):
                poller.register(fd, select.POLLIN)
            try:
                ready = [fd for fd, _ in poller.poll(1000)]
            finally:
                for fd in fds:
                    os.close(fd)
            if stop in ready:
                return
            if ready:
                self.request()
                time.sleep(self.runner_min_interval())

    def runner_min_interval(self) -> float:
        """At least this long between two wake-ups by the watcher (the sync's own pace)."""
        return max(self.runner.min_interval, 0.01)

    def _paced(self) -> None:
        with contextlib.suppress(Exception):  # counted and reported by sync()
            self.sync()

    # -- the sync -------------------------------------------------------------------------
    def sync(self) -> ClusterState | None:
        """Apply what was recorded (everything after a failure); the state applied."""
        with self._one_at_a_time:
            self._check_nodes()
            with self._cond:
                self._attempts += 1
                attempt, full = self._attempts, self._full
            snap = self.tracker.take()
            self._snap_seq = snap.seq
            if not full:
                full = self._checks(idle=snap.empty)
            if snap.empty and not full:
                self._done(snap.seq, None, full)
                return self.state
            try:
                state = self._apply(snap, policies=full or snap.pods_changed)
            except Exception as e:
                with self._cond:
                    self.failures += 1
                    self.last_error = e
                    self._failed_attempt = attempt
                    self._full = True
                    self._cond.notify_all()
                if self.on_failure is not None:
                    self.on_failure(e)
                raise
            self._done(snap.seq, state, full)
            return state

    def _check_nodes(self) -> None:
        """Every sync, the periodic one included: a node whose nft session died gets a
        new one (done by the session) and a full resync of its tables, reported."""
        for node, tables in self.tables.items():
            report = None if tables.session is None else tables.session.revive()
            if report is not None:
                self.resync(f"node {node}: {report}")

    def _checks(self, idle: bool) -> bool:
        """Before a sync that is not full already: the drift checks and the hourly full
        sync; whether this sync must now be a full one. The listing hashes are compared
        on idle runs only (while changes flow, each sync retakes them anyway)."""
        problem = self._drift(idle)
        if problem is not None:
            self.resync(problem)
            return True
        if self.clock() - self._last_full >= self.full_sync_period:
            _log.debug("full sync: %gs since the last one", self.full_sync_period)
            self._forget_all()
            return True
        return False

    def _drift(self, idle: bool = True) -> str | None:
        """At most every ``drift_interval``: whether anyone deleted or edited a table we
        applied, as kube-proxy's iptables mode watches its canary chains for a flush
        (``pkg/util/iptables/monitor``). A table we believe in sync must exist, and its
        listing must hash as when last checked unless we applied something to it since.
        Every ``sync_period`` also compare each with what podnet wants (:meth:`_verify`):
        that catches an edit made between our sync and the first hash of it."""
        now = self.clock()
        if now - self._verified >= self.sync_period:
            self._verified = now
            return self._verify()
        if not idle or now - self._drift_checked < self.drift_interval:
            return None
        if now < self._drift_rest_until and self.syncs != self._digests_at:
            return None  # resting, and tables applied since the last check (below)
        self._drift_checked = now
        self._digests_at = self.syncs
        try:
            return self._drift_tables()
        finally:
            # Paced by its own cost while changes flow, as the sync itself (REST): in a
            # scale-up (a sync every fraction of a second) each idle run found every
            # table changed, a new baseline each, verified against what podnet wants
            # (``nft -j`` of every table on every node), superseded by the next sync.
            # A quiet cluster is checked every drift_interval as before.
            end = self.clock()
            self._drift_rest_until = end + DRIFT_REST * (end - now)

    def _drift_tables(self) -> str | None:
        for node, tables in self.tables.items():
            if tables.session is None:
                continue
            # The netns's ruleset generation (dataplane/nft/generation.py): where our
            # last transaction left it, nobody has committed since and no listing is
            # needed. With a thousand pods the listings were 30 nft processes a second
            # on ten nodes, more CPU than the scale-up's containers (bench/README.md).
            now_gen = _generation(tables.session)
            if now_gen is not None and now_gen == getattr(tables.session, "ours", None):
                continue
            problem = self._drift_node(node, tables)
            if problem is not None or self.tracker.seq != self._snap_seq:
                return problem
            if now_gen is not None:  # our tables are as we left them: the new reference
                tables.session.ours = now_gen  # type: ignore[attr-defined]
        return None

    def _drift_node(self, node: str, tables: NodeTables) -> str | None:
        """Each in-sync table of the node listed and hashed; the first problem."""
        assert tables.session is not None
        for syncer in tables.syncers():
            if not syncer.in_sync:
                continue
            if self.tracker.seq != self._snap_seq:
                # A change came in meanwhile: apply it first (a node's listings
                # under load take long, and kubelets wait for the sync to start
                # containers); the rest are checked at a later idle run.
                return None
            # counted before the listing: a transaction of another thread's (the
            # guard's admit) made meanwhile must not pair its count with the old text
            applied = syncer.applied
            try:
                text = tables.session.listing(syncer.table)
            except PodnetError:
                continue  # cannot look: the next sync's own errors say why
            key = (node, syncer.table)
            if text is None:
                self._digests.pop(key, None)
                return f"node {node}: table {syncer.table} was deleted by someone else"
            text = drift.static_listing(text)  # without what packets add
            digest, before = (applied, hash(text)), self._digests.get(key)
            if before is None or before[0] != digest[0]:
                # A new baseline: trusted only once it is what podnet wants (else an
                # edit made since our sync would become the reference).
                problem = self._verify_one(node, tables, syncer)
                if problem is not None:
                    return problem
            self._digests[key] = digest
            if before is not None and before[0] == digest[0] and before[1] != digest[1]:
                return f"node {node}: table {syncer.table} was changed by someone else"
        return None

    def _verify(self) -> str | None:
        """Every in-sync table's ``nft -j`` listing against the full transaction of what
        was applied (:func:`podnet.dataplane.nft.drift.compare`); the first difference."""
        for node, tables in self.tables.items():
            for syncer in tables.syncers():
                problem = self._verify_one(node, tables, syncer)
                if problem is not None:
                    return problem
        return None

    def _verify_one(self, node: str, tables: NodeTables, syncer: TableSyncer) -> str | None:
        listing_json = getattr(tables.session, "listing_json", None)
        if listing_json is None or not syncer.in_sync or syncer.wanted is None:
            return None
        try:
            objects = listing_json(syncer.table)
        except PodnetError:
            return None  # cannot look: the next sync's own errors say why
        family, name = syncer.table.split()
        got = None if objects is None else drift.shape_of_listing(objects, family, name)
        problem = drift.compare(drift.shape_of_transaction(syncer.wanted()), got)
        return None if problem is None else f"node {node}: table {syncer.table} {problem}"

    def _forget_all(self) -> None:
        for tables in self.tables.values():
            for syncer in tables.syncers():
                syncer.forget()

    def resync(self, reason: str) -> None:
        """Make the next sync a full one on every node (each table replaced whole,
        kube-proxy's full sync) and report ``reason``; call with the sync lock held or
        from outside a sync."""
        self._forget_all()
        with self._cond:
            self._full = True
            self.repairs += 1
        if self.on_repair is not None:
            self.on_repair(f"{reason}; resyncing every table")

    def _apply(self, snap: Snapshot, *, policies: bool) -> ClusterState:
        """Endpoints once; each node's Service proxy (only changed Services reach the
        kernel, kube-proxy's partial sync) and, when pods changed, its policy table
        (rules for the pods on that node); then the DNS records file."""
        desired = snap.state
        endpoints = compute_endpoints(desired.services, desired.pods, snap.ready)
        # Services without a selector keep the endpoints they were given (the API
        # server's own, LiveCluster.set_static_endpoints): no pod decides them.
        selectorless = {s.key for s in desired.services if s.selector is None}
        endpoints.update({k: v for k, v in desired.endpoints.items() if k in selectorless})
        state = dataclasses.replace(desired, endpoints=endpoints)
        per_node = policy_states(state, deny=self.deny) if policies else {}
        guards = guard_states(state) if policies else {}
        for node, tables in self.tables.items():
            if tables.guard is not None and node in guards:
                tables.guard.sync(guards[node], snap.seq)  # first: new pods' sources
            tables.services.sync_cluster(state)
            if node in per_node:
                tables.policies.sync(per_node[node])
        dns_records.write(self.records_path, build_records(state))
        return state

    def _done(self, seq: int, state: ClusterState | None, full: bool) -> None:
        if state is not None:
            self.state = state
            if self.on_synced is not None:
                self.on_synced(state)  # published before any waiter is woken
        with self._cond:
            if state is not None:
                self.syncs += 1
                self.full_syncs += full
                self._full = False
                if full:
                    self._last_full = self.clock()
            self._applied_seq = seq
            self._cond.notify_all()

    # -- waiting ----------------------------------------------------------------------------
    def synced(self, mark: int) -> bool:
        """Whether every change recorded before ``mark`` (:attr:`ChangeTracker.seq`)
        has been applied by a successful sync."""
        with self._cond:
            return self._applied_seq >= mark

    def admit(self, pods: Iterable[Pod], mark: int) -> bool:
        """Let new pods' sources through their node's guard now, ahead of the paced
        sync (the CNI ADD's part: before their containers start); ``mark`` is the change
        mark their recording reached. False if a node's guard could not take them: the
        caller waits for the sync instead."""
        by_node: dict[str, list[tuple[str, str]]] = {}
        for pod in pods:
            if pod.node is not None and pod.ip is not None:
                by_node.setdefault(pod.node, []).append((pod.key, pod.ip))
        ok = True
        for node, pairs in by_node.items():
            guard = self.tables[node].guard if node in self.tables else None
            if guard is not None:
                ok = guard.admit(guard_state(pairs).sources, mark) and ok
        return ok

    def wait_synced(self, timeout: float, mark: int | None = None) -> bool:
        """Wait until the changes recorded so far (or before ``mark``) are applied;
        False on timeout. Raises the error of a sync begun after this call that failed
        (one is asked for here, so a failure from before is retried, not re-raised)."""
        with self._cond:
            begun = self._attempts
        if mark is None:
            mark = self.tracker.seq
        self.request()
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._applied_seq >= mark or self._failed_attempt > begun, timeout
            )
            if self._applied_seq < mark and self._failed_attempt > begun:
                assert self.last_error is not None
                raise self.last_error
        return ok


def _generation(session: object) -> int | None:
    """The ruleset generation of the session's netns now (NftSession), None when the
    session cannot tell (a fake, no reader, the kernel refused)."""
    current = getattr(session, "current_generation", None)
    return None if current is None else current()
