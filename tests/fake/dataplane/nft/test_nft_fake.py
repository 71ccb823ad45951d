"""The transaction builder's text and the fake's rules (atomicity, ENOENT, EBUSY, EEXIST)."""

from __future__ import annotations

import errno

import pytest

from podnet.dataplane.nft.fake import FakeNft
from podnet.dataplane.nft.transaction import Transaction
from podnet.errors import (
    NftBusyError,
    NftError,
    NftExistsError,
    NftInvalidError,
    NftNotFoundError,
)


def base() -> Transaction:
    tx = Transaction("ip", "t")
    tx.add_table()
    tx.add_map("m", "type ipv4_addr : verdict;")
    tx.add_set("s", "type ipv4_addr;")
    tx.add_chain("c")
    tx.add_chain("pre", "type nat hook prerouting priority dstnat; policy accept;")
    tx.add_rule("pre", "ip daddr vmap @m")
    tx.add_element("m", "10.96.0.1", "goto c")
    tx.add_elements("s", [("1.1.1.1", None), ("2.2.2.2", None)])
    return tx


def test_render_batches_elements_and_declares_objects() -> None:
    assert base().render() == (
        "add table ip t\n"
        "add map ip t m { type ipv4_addr : verdict; }\n"
        "add set ip t s { type ipv4_addr; }\n"
        "add chain ip t c\n"
        "add chain ip t pre { type nat hook prerouting priority dstnat; policy accept; }\n"
        "add rule ip t pre ip daddr vmap @m\n"
        "add element ip t m { 10.96.0.1 : goto c }\n"
        "add element ip t s { 1.1.1.1, 2.2.2.2 }\n"
    )
    tx = Transaction("ip", "t")
    tx.delete_element("m", "10.96.0.1")
    tx.delete_element("m", "10.96.0.2")
    assert tx.render() == "delete element ip t m { 10.96.0.1, 10.96.0.2 }\n"
    assert len(base()) == 9 and base().counts()[("add", "element")] == 3


def test_fake_applies_and_snapshots() -> None:
    fake = FakeNft()
    fake.run(base())
    assert fake.elements("ip", "t", "m") == {"10.96.0.1": "goto c"}
    assert fake.table("ip", "t").chains["pre"].rules == ["ip daddr vmap @m"]
    assert fake.transactions == 1


def _run(fake: FakeNft, *lines: tuple[str, ...]) -> None:
    tx = Transaction("ip", "t")
    for verb, *args in lines:
        getattr(tx, verb)(*args)
    fake.run(tx)


ENOENT, EEXIST, EBUSY = errno.ENOENT, errno.EEXIST, errno.EBUSY


@pytest.mark.parametrize(
    ("ops", "error", "code"),
    [
        ([("add_rule", "nochain", "accept")], NftNotFoundError, ENOENT),
        ([("add_rule", "c", "ip daddr @nosuchset accept")], NftNotFoundError, ENOENT),
        ([("add_rule", "c", "goto nochain")], NftNotFoundError, ENOENT),
        ([("add_element", "nomap", "1.2.3.4", "goto c")], NftNotFoundError, ENOENT),
        ([("add_element", "m", "10.96.0.9", "goto nochain")], NftNotFoundError, ENOENT),
        ([("delete_element", "m", "10.96.0.9")], NftNotFoundError, ENOENT),
        ([("add_element", "m", "10.96.0.1", "goto c")], NftExistsError, EEXIST),
        ([("add_element", "s", "1.1.1.1")], NftExistsError, EEXIST),
        ([("add_element", "m", "10.96.0.3")], NftInvalidError, None),
        ([("delete_chain", "c")], NftBusyError, EBUSY),
        ([("delete_map", "m")], NftBusyError, EBUSY),
        ([("flush_chain", "nochain")], NftNotFoundError, ENOENT),
        ([("delete_table",), ("delete_table",)], NftNotFoundError, ENOENT),
    ],
)
def test_fake_rejects_like_the_kernel_and_stays_atomic(
    ops: list[tuple[str, ...]], error: type[NftError], code: int | None
) -> None:
    """Same types and errnos as :class:`ExecNftRunner` (tests/kernel/dataplane/test_failures)."""
    fake = FakeNft()
    fake.run(base())
    before = fake.snapshot()
    with pytest.raises(error) as raised:
        _run(fake, ("add_element", "s", "9.9.9.9"), *ops)
    assert type(raised.value) is error and raised.value.errno == code
    assert fake.snapshot() == before  # the good first op was not applied either
    assert fake.transactions == 1


def test_fake_allows_what_the_kernel_allows() -> None:
    fake = FakeNft()
    fake.run(base())
    # replace an element's data in one transaction; delete a chain once unreferenced
    _run(fake, ("delete_element", "m", "10.96.0.1"), ("add_element", "m", "10.96.0.1", "accept"))
    _run(fake, ("flush_chain", "pre"), ("delete_chain", "c"))
    assert "c" not in fake.table("ip", "t").chains
    _run(fake, ("delete_table",), ("add_table",))
    assert fake.table("ip", "t").chains == {}
