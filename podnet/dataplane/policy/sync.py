"""Applying the policy table: :func:`full_transaction`, :func:`diff`, :class:`PolicyProxy`.

Same contract as the Service proxy: one :class:`~podnet.dataplane.nft.syncer.TableSyncer`
does a full sync first and after any failure, else the element/chain diff. Nothing
here reads or writes the proxy's table.
"""

from __future__ import annotations

from podnet.dataplane.nft import objects
from podnet.dataplane.nft.syncer import SyncedTable, TableSyncer
from podnet.dataplane.nft.transaction import NftRunner, Transaction
from podnet.dataplane.policy.compile import FAMILY, TABLE, PolicyState


def full_transaction(ps: PolicyState) -> Transaction:
    """Replace the whole table atomically."""
    return objects.full_transaction(ps.table)


def delete_transaction() -> Transaction:
    """Remove the table (also when there is none)."""
    return objects.delete_transaction(FAMILY, TABLE)


def diff(old: PolicyState, new: PolicyState) -> Transaction:
    """The transaction that turns table(``old``) into table(``new``) (a full one when a
    declaration changed under the same name, which generated names never do)."""
    tx = objects.diff(old.table, new.table)
    return tx if tx is not None else full_transaction(new)


class PolicyProxy(SyncedTable):
    """Keeps what was applied to one node; :meth:`sync` applies the difference."""

    def __init__(self, runner: NftRunner) -> None:
        self.runner = runner
        self.syncer = TableSyncer(runner, f"{FAMILY} {TABLE}")
        self.applied: PolicyState | None = None

    def sync(self, new: PolicyState) -> int:
        """Apply ``new``; returns how many operations the transaction had."""
        old = self.applied
        self.applied = None
        partial = None
        if old is not None:
            partial = lambda: objects.diff(old.table, new.table)  # noqa: E731
        n = self.syncer.sync(lambda: full_transaction(new), partial)
        self.applied = new
        return n

    def remove(self) -> None:
        """Delete the table; the next :meth:`sync` is a full one."""
        self.syncer.forget()
        self.applied = None
        self.runner.run(delete_transaction())
