"""The pod side's hand-packed rtnetlink messages and ack reading (rtnl ``_pack``,
``_successes``), held to pyroute2 byte for byte: pyroute2 stays the reference, the
packing only saves its per-message cost (a scale-up wires a thousand pods)."""

from __future__ import annotations

import errno
import random
import struct

import pytest
from pyroute2.netlink import NLMSG_ERROR  # type: ignore[import-untyped]
from pyroute2.netlink.rtnl import RTM_NEWROUTE  # type: ignore[import-untyped]

from podnet.dataplane.sandbox import rtnl


@pytest.mark.parametrize("seed", range(5))
def test_packed_requests_are_pyroute2s_bytes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        ip = ".".join(str(rng.randrange(256)) for _ in range(4))
        gw = ".".join(str(rng.randrange(256)) for _ in range(4))
        side = rtnl.PodSide("/proc/self/ns/net", ip, gw)
        for request in rtnl.pod_requests(side, rng.randrange(1, 64), rng.randrange(1, 2**31)):
            seq = rng.randrange(1, 2**31)
            packed = rtnl._pack(request, seq)
            assert packed is not None, request
            assert packed == request.encode_pyroute2(seq) == request.encode(seq)


def test_other_shapes_go_through_pyroute2() -> None:
    odd = rtnl.Request("odd", RTM_NEWROUTE, 0, (("family", 2),), (("RTA_PRIORITY", 5),))
    assert rtnl._pack(odd, 1) is None


def _ack(seq: int, error: int) -> bytes:
    """An NLMSG_ERROR ack as the kernel sends it: header, error, the request's header."""
    body = struct.pack("=i", -error) + struct.pack("=IHHII", 16, 20, 5, seq, 0)
    return struct.pack("=IHHII", 16 + len(body), NLMSG_ERROR, 0x100, seq, 0) + body


def test_successful_acks_are_read_from_their_headers() -> None:
    assert rtnl._successes(b"".join(_ack(s, 0) for s in (1, 2, 3))) == [
        (1, (0, "")),
        (2, (0, "")),
        (3, (0, "")),
    ]


def test_any_failed_ack_leaves_the_datagram_to_pyroute2() -> None:
    assert rtnl._successes(_ack(1, 0) + _ack(2, errno.EEXIST)) is None
    assert rtnl._successes(_ack(1, 0)[:-3]) is None  # truncated: not read by hand
