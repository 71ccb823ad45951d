"""A sync's measured cost leaves out the garbage collections it happened to set off
(base.sync_cpu): a full collection walks the whole heap, and counting it would make
the next change of that key wait up to SyncCosts' max_delay for nothing."""

from __future__ import annotations

import gc
import time

from podnet.controllers.base import SyncCosts, sync_cpu


def test_a_collection_during_a_sync_is_not_its_cost() -> None:
    heap = [[i] for i in range(300_000)]  # tracked objects for the collector to walk
    costs = SyncCosts(0.05, 20.0)
    t0 = time.thread_time()

    def sync() -> None:
        gc.collect()

    costs.measure("k", sync)
    spent = time.thread_time() - t0
    assert spent > 0.005, "the collection walked the heap"
    cost = costs.cost("k")
    assert cost is not None and cost < spent / 5
    assert costs.delay("k") == 0.05
    del heap


def test_sync_cpu_counts_the_sync_own_work() -> None:
    t0, c0 = time.thread_time(), sync_cpu()
    total = 0
    for i in range(300_000):
        total += i * i
    spent, counted = time.thread_time() - t0, sync_cpu() - c0
    assert total > 0 and counted > spent / 2
