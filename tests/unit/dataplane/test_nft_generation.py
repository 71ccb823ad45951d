"""The NFT_MSG_GETGEN request and answer, packed by hand, held to pyroute2's encoder."""

from __future__ import annotations

import errno
import socket
import struct

import pytest
from pyroute2.netlink import NLM_F_REQUEST  # type: ignore[import-untyped]
from pyroute2.netlink.nfnetlink import NFNL_SUBSYS_NFTABLES  # type: ignore[import-untyped]
from pyroute2.netlink.nfnetlink.nftsocket import (  # type: ignore[import-untyped]
    NFT_MSG_GETGEN,
    NFT_MSG_NEWGEN,
    nft_gen_msg,
)

from podnet.dataplane.nft import generation


def _pyroute2(kind: int, seq: int, attrs: list[tuple[str, object]]) -> bytes:
    msg = nft_gen_msg()
    msg["header"]["type"] = (NFNL_SUBSYS_NFTABLES << 8) | kind
    msg["header"]["flags"] = NLM_F_REQUEST
    msg["header"]["sequence_number"] = seq
    msg["nfgen_family"] = socket.AF_UNSPEC
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)


def test_the_request_is_pyroute2s_getgen() -> None:
    assert generation.request(7) == _pyroute2(NFT_MSG_GETGEN, 7, [])


def test_the_answers_generation_is_read() -> None:
    answer = _pyroute2(
        NFT_MSG_NEWGEN,
        9,
        [("NFTA_GEN_ID", 123456), ("NFTA_GEN_PROC_PID", 42), ("NFTA_GEN_PROC_NAME", "podnet")],
    )
    assert generation.parse(answer, 9) == 123456


def test_an_answer_to_another_request_is_not_taken() -> None:
    answer = _pyroute2(NFT_MSG_NEWGEN, 8, [("NFTA_GEN_ID", 5)])
    with pytest.raises(OSError) as e:
        generation.parse(answer, 9)
    assert e.value.errno == 0


def test_a_netlink_error_is_raised_with_its_errno() -> None:
    header = struct.pack("=IHHII", 36, generation.NLMSG_ERROR, 0, 3, 0)
    error = struct.pack("=i", -errno.EPERM) + generation.request(3)[:16]
    with pytest.raises(PermissionError):
        generation.parse(header + error, 3)
