"""The nftables ruleset generation of one network namespace: a canary for drift checks.

The kernel numbers every committed nf_tables batch of a netns (``nft_base_seq``); an
``NFT_MSG_GETGEN`` request answers the current number (``NFTA_GEN_ID``, what ``nft
monitor`` and libnftables' cache use to tell whether their view is stale). If it is
still what it was right after podnet's own last transaction there, nobody has
committed anything since, so none of podnet's tables can have been deleted or edited:
the listings of every table (a ``nft list`` process each, tens of ms of CPU for a
table of a thousand elements) are needed only when the number moved.

Why by hand: the request is one 20-byte datagram and the answer one attribute, on a
``NETLINK_NETFILTER`` socket that must be created inside the node's netns (a socket
keeps the namespace it was made in, :func:`podnet.dataplane.netns.socket_in`);
pyroute2's ``NFTSocket`` runs an asyncio loop of its own per socket and opens it in
the calling thread's namespace. The tests hold this packing to pyroute2's
``nft_gen_msg`` parser.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

from podnet.dataplane import netns

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWGEN = 15
NFT_MSG_GETGEN = 16
NFTA_GEN_ID = 1
NLM_F_REQUEST = 0x1
NLMSG_ERROR = 2
NFNETLINK_V0 = 0

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_NFGEN = struct.Struct("=BBH")  # nfgenmsg: family, version, res_id (big-endian, 0)
_ATTR = struct.Struct("=HH")  # nlattr: len, type


def request(seq: int) -> bytes:
    """The NFT_MSG_GETGEN request (AF_UNSPEC: the generation is per netns)."""
    kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
    body = _NFGEN.pack(socket.AF_UNSPEC, NFNETLINK_V0, 0)
    return _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST, seq, 0) + body


def parse(data: bytes, seq: int) -> int:
    """``NFTA_GEN_ID`` of the NFT_MSG_NEWGEN answer to request ``seq``; an error answer
    is raised as OSError with its errno."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _, got_seq, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            break
        end = offset + length
        if got_seq == seq:
            if kind == NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                raise OSError(-error, os.strerror(-error))
            if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN:
                at = offset + _HEADER.size + _NFGEN.size
                while at + _ATTR.size <= end:
                    alen, atype = _ATTR.unpack_from(data, at)
                    if alen < _ATTR.size:
                        break
                    if atype & 0x3FFF == NFTA_GEN_ID:
                        (gen,) = struct.unpack_from(">I", data, at + _ATTR.size)
                        return int(gen)
                    at += (alen + 3) & ~3
        offset = (end + 3) & ~3
    raise OSError(0, "no ruleset generation in the kernel's answer")


class Generation:
    """Reads the ruleset generation of the netns at ``netns_path`` (for example a node
    holder's ``/proc/<pid>/ns/net``); the socket is opened on first use and kept.
    Thread-safe; :meth:`close` when done."""

    def __init__(self, netns_path: str) -> None:
        self.netns_path = netns_path
        self._sock: socket.socket | None = None
        self._seq = 0
        self._lock = threading.Lock()

    def read(self) -> int:
        """The current generation; OSError when the netns or the kernel cannot say."""
        with self._lock:
            if self._sock is None:
                self._sock = netns.socket_in(
                    self.netns_path, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER
                )
                self._sock.settimeout(2.0)
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            try:
                self._sock.send(request(self._seq))
                while True:  # an answer to an earlier request that timed out is skipped
                    try:
                        return parse(self._sock.recv(8192), self._seq)
                    except OSError as e:
                        if e.errno != 0:
                            raise
            except OSError:
                self._close()
                raise

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()
