"""A large transaction through :class:`NftSession` goes by ``include`` of the session's
memfd (not typed into nft -i's line editor): applied whole, refused whole, classified
as before, and nothing of it left in the filesystem.

Runs in a scratch network namespace held by a ``sleep`` of this test (``unshare --net``),
entered with nsenter as podnet enters a node: the host's ruleset is never touched.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from support.sandbox import require_kernel

from podnet.dataplane.nft.session import INCLUDE_OVER, NftSession
from podnet.dataplane.nft.transaction import Transaction
from podnet.errors import NftNotFoundError

pytestmark = pytest.mark.kernel

TABLE = ("inet", "podnet-datascale")


@pytest.fixture
def netns() -> Iterator[tuple[str, ...]]:
    """nsenter's prefix into a scratch netns that lives as long as the test."""
    require_kernel()
    holder = subprocess.Popen(
        ["unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 600"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
        yield ("nsenter", f"--net=/proc/{holder.pid}/ns/net", "--")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def _big(n: int, *, broken: bool = False) -> Transaction:
    tx = Transaction(*TABLE)
    tx.add_table()
    tx.add_set("ips", "type ipv4_addr;")
    tx.add_elements("ips", ((f"10.{i // 250}.{i % 250}.1", None) for i in range(n)))
    if broken:  # the kernel refuses the last command: nothing of the batch may land
        tx.delete_chain("no-such-chain")
    return tx


def _elements(session: NftSession) -> int:
    listing = session.listing(" ".join(TABLE))
    return 0 if listing is None else len(re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", listing))


def test_a_large_transaction_is_applied_whole_through_the_memfd(
    netns: tuple[str, ...],
) -> None:
    tx = _big(600)
    assert len(tx.render()) > INCLUDE_OVER
    with NftSession(netns) as session:
        session.run(tx)
        assert _elements(session) == 600
        # the session's memfd is nft's only extra descriptor, and no path holds it
        fds = os.listdir(f"/proc/{session.proc.pid}/fd")
        targets = [os.readlink(f"/proc/{session.proc.pid}/fd/{fd}") for fd in fds]
        assert [t for t in targets if "podnet-nft-tx" in t] == ["/memfd:podnet-nft-tx (deleted)"]
        # a smaller one afterwards is typed in as before, and a large one again
        small = Transaction(*TABLE)
        small.add_element("ips", "192.168.0.1")
        session.run(small)
        session.run(_big(700))  # add table/set again: no-ops; 100 more elements
        assert _elements(session) == 701


def test_a_refused_large_transaction_leaves_nothing_and_is_classified(
    netns: tuple[str, ...],
) -> None:
    with NftSession(netns) as session:
        with pytest.raises(NftNotFoundError) as raised:
            session.run(_big(600, broken=True))
        assert raised.value.errno == errno.ENOENT
        assert session.listing(" ".join(TABLE)) is None  # not even the table
        session.run(_big(300))  # the session still works, and the memfd is rewritten
        assert _elements(session) == 300
