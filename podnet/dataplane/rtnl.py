"""A minimal rtnetlink client for the pod side of the wiring (addresses, routes, link up).

Why not ``ip``: configuring a pod's end needs a process *inside* the pod's netns, i.e.
one ``nsenter ip -batch`` exec per pod, which dominated the set-up time of many pods.
Namespaces are per thread, so one short-lived worker thread can instead setns(2) into
each pod's netns in turn and open a NETLINK_ROUTE socket there (a socket stays bound to
the netns it was created in, rtnetlink(7)); five small requests per pod then cost
microseconds. The worker thread is never reused: it exits, and its netns reference with
it. The messages are the ones ``ip`` sends (linux/rtnetlink.h, linux/if_addr.h).

Errors come back as NLMSG_ERROR acks and are raised as :class:`CommandError` whose argv
names the request, so callers handle them like a failed ``ip`` line.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from podnet.dataplane import netns
from podnet.errors import CommandError, NotSupportedError, PodnetError

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFF_UP = 0x1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253


def _attr(kind: int, data: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


class Rtnl:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def _request(self, what: str, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        header = struct.pack(
            "=LHHLL", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self._seq, 0
        )
        self._sock.send(header + body)
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, _, seq, _ = struct.unpack_from("=LHHLL", data, offset)
                if mtype == NLMSG_ERROR and seq == self._seq:
                    (err,) = struct.unpack_from("=i", data, offset + 16)
                    if err != 0:
                        raise CommandError(["rtnetlink", *what.split()], -err, os.strerror(-err))
                    return
                offset += max(length + (-length % 4), 16)

    def link_up(self, ifname: str) -> None:
        index = socket.if_nametoindex(ifname)
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        self._request(f"link set {ifname} up", RTM_NEWLINK, 0, body)

    def addr_add(self, ifname: str, address: str, prefixlen: int) -> None:
        raw = ipaddress.IPv4Address(address).packed
        body = struct.pack(
            "=BBBBI", socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, socket.if_nametoindex(ifname)
        )
        body += _attr(IFA_LOCAL, raw) + _attr(IFA_ADDRESS, raw)
        self._request(
            f"address add {address}/{prefixlen} dev {ifname}",
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            body,
        )

    def route_add(self, dst: str | None, ifname: str, gateway: str | None = None) -> None:
        """``dst`` None is the default route; without ``gateway`` the route is link-scoped."""
        dst_len = 0 if dst is None else 32
        scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
        body = struct.pack(
            "=BBBBBBBBI",
            socket.AF_INET,
            dst_len,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            scope,
            RTN_UNICAST,
            0,
        )
        if dst is not None:
            body += _attr(RTA_DST, ipaddress.IPv4Address(dst).packed)
        if gateway is not None:
            body += _attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)
        body += _attr(RTA_OIF, struct.pack("=I", socket.if_nametoindex(ifname)))
        what = f"route add {dst or 'default'} dev {ifname}" + (f" via {gateway}" if gateway else "")
        self._request(what, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)


@dataclass(frozen=True)
class PodSide:
    """The pod end of a pod's wiring: what :func:`links.pod_config_batch` says in ``ip``."""

    netns_path: str  # /proc/<pause pid>/ns/net
    ip: str
    gateway: str
    ifname: str = "eth0"


def configure(pod: PodSide) -> None:
    """Configure one pod from a thread already inside its netns."""
    rt = Rtnl()
    try:
        rt.link_up("lo")
        rt.addr_add(pod.ifname, pod.ip, 32)
        rt.link_up(pod.ifname)
        rt.route_add(pod.gateway, pod.ifname)
        rt.route_add(None, pod.ifname, gateway=pod.gateway)
    finally:
        rt.close()


def configure_pods(pods: Sequence[PodSide]) -> None:
    """Configure every pod's side from one throw-away thread; raise the first error."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for pod in pods:
                fd = os.open(pod.netns_path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    netns.setns(fd, netns.CLONE_NEWNET)
                finally:
                    os.close(fd)
                configure(pod)
        except BaseException as e:  # handed to the caller's thread below
            errors.append(e)

    worker = threading.Thread(target=work, name="podnet-rtnl", daemon=True)
    worker.start()
    worker.join()
    if errors:
        err = errors[0]
        if isinstance(err, PodnetError):
            raise err
        if isinstance(err, OSError):
            raise NotSupportedError(f"cannot configure pod interfaces: {err}") from err
        raise err
