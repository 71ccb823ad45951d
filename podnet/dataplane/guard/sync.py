"""Applying the guard table: :class:`GuardProxy`, the same contract as the policy table.

Full sync first and after any failure, else the element diff of
:func:`podnet.dataplane.nft.objects.diff` (a pod added or removed is one element);
counters ``full_syncs``, ``failed_syncs``, ``last_error`` as every podnet table.

A new pod's source is let in at once by :meth:`GuardProxy.admit` (the CNI ADD's part,
before its containers start), ahead of the paced sync: until the sync had listed it,
the pod's first packets were dropped as forged (a client's DNS query: "wget: bad
address"). A sync from a snapshot older than the admission keeps it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from podnet.dataplane.guard.table import FAMILY, TABLE, GuardState
from podnet.dataplane.nft import objects
from podnet.dataplane.nft.syncer import SyncedTable, TableSyncer
from podnet.dataplane.nft.transaction import NftRunner
from podnet.errors import PodnetError


class GuardProxy(SyncedTable):
    """Keeps what was applied to one node; :meth:`sync` applies the difference."""

    def __init__(self, runner: NftRunner) -> None:
        self.runner = runner
        self.syncer = TableSyncer(runner, f"{FAMILY} {TABLE}")
        self.applied: GuardState | None = None
        # sources let in by admit(), each with the change mark of its pods: kept by
        # every sync of a snapshot taken before that mark (which does not know them)
        self._admitted: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()  # sync (the sync thread), admit (the kubelet's)

    def sync(self, new: GuardState, seq: int | None = None) -> int:
        """Apply ``new``, the table of the snapshot of changes up to ``seq`` (None: the
        whole truth), with what :meth:`admit` let in after it; returns how many
        operations the transaction had (0: none)."""
        with self._lock:
            admitted = self._admitted
            if seq is None:
                admitted.clear()
            else:
                for source in [s for s, mark in admitted.items() if mark <= seq]:
                    del admitted[source]
            if admitted:
                new = GuardState(new.sources | frozenset(admitted))
            return self._apply(new)

    def admit(self, sources: Iterable[tuple[str, str]], mark: int) -> bool:
        """Let ``sources`` (veth, IP) through now, for pods recorded up to ``mark``;
        False when the table is not known to be in sync (or the kernel refused): the
        caller waits for the sync instead."""
        with self._lock:
            old = self.applied
            if old is None or not self.syncer.in_sync:
                return False
            fresh = frozenset(sources)
            for source in fresh:
                self._admitted[source] = max(mark, self._admitted.get(source, mark))
            try:
                self._apply(GuardState(old.sources | fresh))
            except PodnetError:
                return False
            return True

    def _apply(self, new: GuardState) -> int:
        old = self.applied
        if old == new and self.syncer.in_sync:
            return 0
        self.applied = None
        partial = None
        if old is not None:
            partial = lambda: objects.diff(old.table, new.table)  # noqa: E731
        n = self.syncer.sync(lambda: objects.full_transaction(new.table), partial)
        self.applied = new
        return n

    def remove(self) -> None:
        """Delete the table; the next :meth:`sync` is a full one."""
        with self._lock:
            self.syncer.forget()
            self.applied = None
            self.runner.run(objects.delete_transaction(FAMILY, TABLE))
