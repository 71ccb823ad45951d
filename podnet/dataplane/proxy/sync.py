"""Applying the proxy table: :func:`full_sync`, :func:`diff` and :class:`ServiceProxy`.

The handlers of :class:`ServiceProxy` record changes per Service (kube-proxy's change
trackers) and a sync recomputes only those Services' fragments, so one endpoint change
costs the same at 10 Services as at 10,000; full vs partial sync and the fallback after
a failure are :class:`~podnet.dataplane.nft.syncer.TableSyncer`'s.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping

from podnet.dataplane.nft.syncer import SyncedTable, TableSyncer
from podnet.dataplane.nft.transaction import NftRunner, Transaction
from podnet.dataplane.proxy.rules import FAMILY, TABLE
from podnet.dataplane.proxy.services import ProxyState, ServicePortRule, compile_service, gc_paused
from podnet.dataplane.proxy.table import ProxyTable
from podnet.errors import ClusterError
from podnet.model.cluster import ClusterState, Endpoint
from podnet.model.objects import Service

EndpointsByPort = Mapping[str, tuple[Endpoint, ...]]  # service port name -> endpoints


def full_transaction(st: ProxyState) -> Transaction:
    """Replace the whole table for ``st`` atomically, in one transaction."""
    return ProxyTable.from_state(st).full_transaction()


def full_sync(runner: NftRunner, st: ProxyState) -> None:
    """Program the whole table for ``st`` in one transaction."""
    runner.run(full_transaction(st))


def diff(old: ProxyState, new: ProxyState) -> Transaction:
    """The element-level transaction that turns table(``old``) into table(``new``). Pure.

    Compares the two states per Service (O(Services)); only the Services that differ
    are recompiled into nftables terms.
    """
    table = ProxyTable.from_state(old)
    return table.apply(table.changes_to(new))


class ServiceProxy(SyncedTable):
    """Keeps the desired table; syncs the difference, or everything.

    Two ways in, which may be mixed:

    * whole state: :meth:`sync` (a :class:`ProxyState`) or :meth:`sync_cluster` (a
      :class:`ClusterState`); both find the changed Services, O(Services);
    * handlers, O(changed): :meth:`update_service`, :meth:`update_endpoints` and
      :meth:`delete_service` only record; :meth:`sync_changes` applies what they
      recorded in one transaction.

    Full sync on the first call and after any failed sync (the kernel table may then
    differ from what we believe), as kube-proxy does: :attr:`syncer` decides and counts.
    """

    def __init__(self, runner: NftRunner, freeze_gc: bool = True) -> None:
        """``freeze_gc``: after each full sync call :func:`gc.freeze`, see :meth:`_apply`."""
        self.runner = runner
        self.freeze_gc = freeze_gc
        self.table = ProxyTable()
        self.syncer = TableSyncer(runner, f"{FAMILY} {TABLE}")
        self._pending: dict[str, tuple[ServicePortRule, ...]] = {}
        self._sources: dict[str, tuple[Service, EndpointsByPort]] = {}

    # -- handlers (record only) ---------------------------------------------------------
    def update_service(self, svc: Service, endpoints: EndpointsByPort) -> None:
        """``svc`` (new or changed) now has ``endpoints`` (port name -> endpoints)."""
        self._sources[svc.key] = (svc, endpoints)
        self._pending[svc.key] = tuple(compile_service(svc, endpoints))

    def update_endpoints(
        self, svc_key: str, port_name: str, endpoints: tuple[Endpoint, ...]
    ) -> None:
        """The endpoints of one port of a Service given earlier changed."""
        source = self._sources.get(svc_key)
        if source is None:
            raise ClusterError(f"service {svc_key!r} is not known to the proxy")
        svc, eps = source
        self.update_service(svc, {**eps, port_name: endpoints})

    def delete_service(self, svc_key: str) -> None:
        self._sources.pop(svc_key, None)
        self._pending[svc_key] = ()

    # -- syncing --------------------------------------------------------------------------
    def sync_changes(self) -> int:
        """Apply what the handlers recorded; returns the transaction's operation count."""
        changes, self._pending = self._pending, {}
        return self._apply(changes)

    def sync(self, new: ProxyState) -> int:
        """Make the table realise exactly ``new`` (recorded changes are superseded, and
        the Services given to the handlers are forgotten: ``new`` is the whole truth)."""
        self._pending.clear()
        self._sources.clear()
        return self._apply(self.table.changes_to(new))

    def sync_cluster(self, state: ClusterState) -> int:
        """Make the table realise ``state``'s Services; a Service whose object and
        endpoint map are the very same objects as last time is skipped unread."""
        seen: set[str] = set()
        with gc_paused():
            for svc in state.services:
                key = svc.key
                seen.add(key)
                eps = state.endpoints.get(key, {})
                prev = self._sources.get(key)
                if prev is None or not _same(prev[0], svc) or not _same(prev[1], eps):
                    self.update_service(svc, eps)
        for key in list(self._sources):
            if key not in seen:
                self.delete_service(key)
        for key in self.table.services:
            if key not in seen and key not in self._pending:
                self._pending[key] = ()
        return self.sync_changes()

    def _apply(self, changes: Mapping[str, tuple[ServicePortRule, ...]]) -> int:
        """Partial sync of ``changes`` when the kernel matches the table, else a full one;
        after a full sync, with ``freeze_gc``, move every object the process has to
        CPython's permanent GC generation (:func:`gc.freeze`).

        Why freeze: at 10,000 Services the process holds ~200,000 GC-tracked objects,
        and CPython now and then runs a full collection over all of them, which would
        land inside some endpoint change and break its < 10 ms budget (bench/README.md).
        Frozen objects are still freed by reference counting (nothing here forms
        cycles); only cyclic garbage among them would be kept.
        """
        full_before = self.syncer.full_syncs
        partial = None
        if self.syncer.in_sync:
            partial = lambda: self.table.apply(changes)  # noqa: E731
        else:
            self.table.load(changes)
        with gc_paused():  # a full sync renders 30,000 elements at 10,000 Services
            n = self.syncer.sync(self.table.full_transaction, partial)
        if self.freeze_gc and self.syncer.full_syncs != full_before:
            gc.freeze()
        return n


def _same(a: object, b: object) -> bool:
    return a is b or a == b
