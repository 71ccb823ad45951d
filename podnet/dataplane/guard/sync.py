"""Applying the guard table: :class:`GuardProxy`, the same contract as the policy table.

Full sync first and after any failure, else the element diff of
:func:`podnet.dataplane.nft.objects.diff` (a pod added or removed is one element);
counters ``full_syncs``, ``failed_syncs``, ``last_error`` as every podnet table.
"""

from __future__ import annotations

from podnet.dataplane.guard.table import FAMILY, TABLE, GuardState
from podnet.dataplane.nft import objects
from podnet.dataplane.nft.syncer import SyncedTable, TableSyncer
from podnet.dataplane.nft.transaction import NftRunner


class GuardProxy(SyncedTable):
    """Keeps what was applied to one node; :meth:`sync` applies the difference."""

    def __init__(self, runner: NftRunner) -> None:
        self.runner = runner
        self.syncer = TableSyncer(runner, f"{FAMILY} {TABLE}")
        self.applied: GuardState | None = None

    def sync(self, new: GuardState) -> int:
        """Apply ``new``; returns how many operations the transaction had (0: none)."""
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
        self.syncer.forget()
        self.applied = None
        self.runner.run(objects.delete_transaction(FAMILY, TABLE))
