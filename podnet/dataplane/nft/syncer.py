"""One syncer for every podnet nft table: full sync, partial syncs, full after a failure.

kube-proxy's nftables proxier (``pkg/proxy/nftables/proxier.go`` ``syncProxyRules``)
does a full sync at start and whenever the last sync failed, a partial sync otherwise,
each ONE ``nft -f`` transaction; failures are logged and counted
(``sync_proxy_rules_nftables_sync_failures_total``), never swallowed. Same here, for
the Service proxy and the policy tables alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from podnet.dataplane.nft.transaction import NftRunner, Transaction
from podnet.errors import NftError

_log = logging.getLogger(__name__)


class TableSyncer:
    """Knows whether the kernel's table matches what was last applied, and applies
    the next change as a partial transaction when it does, else as a full one."""

    def __init__(self, runner: NftRunner, table: str) -> None:
        self.runner = runner
        self.table = table  # for log lines: "ip podnet-proxy"
        self.full_syncs = 0
        self.failed_syncs = 0  # transactions the kernel refused, partial or full
        self.last_error: NftError | None = None
        self.in_sync = False  # the kernel table is what the last sync applied
        self.applied = 0  # transactions applied so far (a listing taken before is stale)
        # The full transaction of what was last applied, built on demand: what podnet
        # wants the kernel table to be (nft/drift.py compares the two).
        self.wanted: Callable[[], Transaction] | None = None

    def sync(
        self,
        full: Callable[[], Transaction],
        partial: Callable[[], Transaction | None] | None = None,
    ) -> int:
        """Apply ``partial()`` when in sync (None from it: cannot be partial), else or
        after its failure ``full()``. Returns the applied transaction's operations.
        A failed full sync raises; the next call tries a full sync again."""
        if self.in_sync and partial is not None:
            tx = partial()
            if tx is not None:
                try:
                    self.runner.run(tx)
                except NftError as e:
                    self._failed(e, "partial")
                else:
                    self.wanted = full
                    self.applied += bool(tx.ops)
                    return len(tx)
        self.in_sync = False
        tx = full()
        try:
            self.runner.run(tx)
        except NftError as e:
            self._failed(e, "full")
            raise
        self.in_sync = True
        self.wanted = full
        self.applied += 1
        self.full_syncs += 1
        return len(tx)

    def forget(self) -> None:
        """The kernel table is no longer what we applied (removed): next sync is full."""
        self.in_sync = False

    def _failed(self, e: NftError, kind: str) -> None:
        self.failed_syncs += 1
        self.last_error = e
        _log.warning("%s: %s sync failed, next sync is a full one: %s", self.table, kind, e)


class SyncedTable:
    """The counters of a component's :class:`TableSyncer`, read the same way for the
    Service proxy and the policy tables (``full_syncs``, ``failed_syncs``,
    ``last_error``)."""

    syncer: TableSyncer

    @property
    def full_syncs(self) -> int:
        return self.syncer.full_syncs

    @property
    def failed_syncs(self) -> int:
        """Transactions the kernel refused (each followed by a full sync)."""
        return self.syncer.failed_syncs

    @property
    def last_error(self) -> NftError | None:
        return self.syncer.last_error
