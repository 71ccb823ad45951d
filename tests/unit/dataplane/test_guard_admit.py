"""A new pod's source admitted into its node's guard before its containers start (the
CNI ADD's part), ahead of the paced sync, and what later syncs do with it: one from a
snapshot taken before the admission keeps it, one that knows the pod's fate decides."""

from __future__ import annotations

from podnet.dataplane.guard.sync import GuardProxy
from podnet.dataplane.guard.table import FAMILY, SOURCES, TABLE, guard_state
from podnet.dataplane.nft.fake import FakeNft

OLD = ("default/old", "10.244.0.2")
NEW = ("default/new", "10.244.0.3")


def _sources(nft: FakeNft) -> set[str]:
    return set(nft.elements(FAMILY, TABLE, SOURCES))


def _element(pod: tuple[str, str]) -> str:
    return next(iter(guard_state([pod]).table.elements[SOURCES]))


def test_admitted_at_once_and_kept_by_a_sync_of_an_older_snapshot() -> None:
    nft = FakeNft()
    guard = GuardProxy(nft)
    guard.sync(guard_state([OLD]), seq=1)
    assert guard.admit(guard_state([NEW]).sources, mark=3)
    assert _sources(nft) == {_element(OLD), _element(NEW)}
    guard.sync(guard_state([OLD]), seq=2)  # taken before the new pod was recorded
    assert _sources(nft) == {_element(OLD), _element(NEW)}
    guard.sync(guard_state([OLD, NEW]), seq=3)  # it knows the pod now
    assert _sources(nft) == {_element(OLD), _element(NEW)}


def test_a_sync_that_knows_the_pod_gone_removes_it() -> None:
    nft = FakeNft()
    guard = GuardProxy(nft)
    guard.sync(guard_state([OLD]), seq=1)
    assert guard.admit(guard_state([NEW]).sources, mark=3)
    guard.sync(guard_state([OLD]), seq=4)  # the pod was deleted after it was admitted
    assert _sources(nft) == {_element(OLD)}
    guard.sync(guard_state([OLD]), seq=5)
    assert _sources(nft) == {_element(OLD)}


def test_nothing_is_admitted_before_the_first_sync() -> None:
    nft = FakeNft()
    guard = GuardProxy(nft)
    assert not guard.admit(guard_state([NEW]).sources, mark=1)
    assert (FAMILY, TABLE) not in nft.tables
