"""The pod side of the wiring over rtnetlink: link up, address /32, routes.

Why not ``ip``: it needs one ``nsenter ip -batch`` exec per pod, which dominated the
set-up of many pods. Namespaces are per thread, so one throw-away worker thread setns(2)s
into each pod's netns in turn and opens a NETLINK_ROUTE socket there (a socket stays in
the netns it was created in, rtnetlink(7)). All five requests of a pod go in one datagram:
pyroute2's ``IPRoute`` APIs cost more (bench/README.md, "Pod set-up (sandbox)"). The five
shapes are packed with :mod:`struct` and successful acks read from their headers (pyroute2's
generic encoder and parser cost ~1 ms of CPU per pod, under the GIL podnet's API shares);
pyroute2 remains the reference the tests hold that packing to, byte for byte, and parses
any failed ack (its errno and extended-ack text). rtnetlink handles a datagram's messages in
order and, unlike ``ip -batch``, goes on after a failure; the first failure in request
order is raised, typed by its errno (:func:`podnet.dataplane.failures.command_error`).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink import (  # type: ignore[import-untyped]
    NETLINK_EXT_ACK,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    SOL_NETLINK,
)
from pyroute2.netlink.rtnl import (  # type: ignore[import-untyped]
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    rt_proto,
    rt_scope,
    rt_type,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # type: ignore[import-untyped]
from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP, ifinfmsg  # type: ignore[import-untyped]
from pyroute2.netlink.rtnl.marshal import MarshalRtnl  # type: ignore[import-untyped]
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # type: ignore[import-untyped]

from podnet.dataplane import netns
from podnet.dataplane.failures import command_error
from podnet.errors import NotSupportedError, PodnetError

RT_TABLE_MAIN = 254  # linux/rtnetlink.h; what ``ip route add`` uses without ``table``
TIMEOUT = 10.0  # seconds to wait for the acks: a wedged kernel is a failed command
_MARSHAL = MarshalRtnl()


@dataclass(frozen=True)
class Request:
    """One rtnetlink request: the ``ip`` words it stands for, and its pyroute2 message."""

    what: str
    kind: int
    flags: int
    fields: tuple[tuple[str, Any], ...]
    attrs: tuple[tuple[str, Any], ...] = ()

    def encode(self, seq: int) -> bytes:
        """The message, packed with :mod:`struct` for the three shapes podnet sends (a
        pod's five messages cost ~1 ms of CPU through pyroute2's generic encoder, a
        second per thousand pods); anything else through pyroute2, which the tests
        hold the fast path to, byte for byte."""
        fast = _pack(self, seq)
        return fast if fast is not None else self.encode_pyroute2(seq)

    def encode_pyroute2(self, seq: int) -> bytes:
        cls = {RTM_NEWLINK: ifinfmsg, RTM_NEWADDR: ifaddrmsg, RTM_NEWROUTE: rtmsg}[self.kind]
        msg = cls()
        for name, value in self.fields:
            msg[name] = value
        msg["attrs"] = [list(a) for a in self.attrs]
        msg["header"]["type"] = self.kind
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | self.flags
        msg["header"]["sequence_number"] = seq
        msg.encode()
        return bytes(msg.data)


# linux/netlink.h, if_link.h/rtnetlink.h, if_addr.h: struct nlmsghdr, ifinfomsg,
# ifaddrmsg, rtmsg, and the attribute numbers used here (native byte order)
_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")
_ADDR_ATTRS = {"IFA_ADDRESS": 1, "IFA_LOCAL": 2}
_ROUTE_ATTRS = {"RTA_DST": 1, "RTA_OIF": 4, "RTA_GATEWAY": 5}


def _pack(request: Request, seq: int) -> bytes | None:
    """``request`` as :func:`link_up`, :func:`addr_add` and :func:`route_add` make it,
    packed by hand; None for any other shape."""
    f = dict(request.fields)
    known = _ADDR_ATTRS if request.kind == RTM_NEWADDR else _ROUTE_ATTRS
    if any(name not in known for name, _ in request.attrs):
        return None
    if request.kind == RTM_NEWLINK and not request.attrs and len(f) == 4:
        body = _IFINFOMSG.pack(f["family"], 0, f["index"], f["flags"], f["change"])
    elif request.kind == RTM_NEWADDR and len(f) == 4:
        body = _IFADDRMSG.pack(f["family"], f["prefixlen"], 0, f["scope"], f["index"])
        body += _attrs(request.attrs, _ADDR_ATTRS)
    elif request.kind == RTM_NEWROUTE and len(f) == 6:
        fixed = (f["dst_len"], 0, 0, f["table"], f["proto"], f["scope"], f["type"], 0)
        body = _RTMSG.pack(f["family"], *fixed) + _attrs(request.attrs, _ROUTE_ATTRS)
    else:
        return None
    flags = NLM_F_REQUEST | NLM_F_ACK | request.flags
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), request.kind, flags, seq, 0) + body


def _attrs(attrs: Sequence[tuple[str, Any]], numbers: dict[str, int]) -> bytes:
    out = b""
    for name, value in attrs:
        data = struct.pack("=I", value) if isinstance(value, int) else socket.inet_aton(value)
        out += _RTATTR.pack(_RTATTR.size + len(data), numbers[name]) + data  # 4-aligned
    return out


def link_up(ifname: str, index: int) -> Request:
    """``ip link set <ifname> up``."""
    return Request(
        f"link set {ifname} up",
        RTM_NEWLINK,
        0,
        (("family", socket.AF_UNSPEC), ("index", index), ("flags", IFF_UP), ("change", IFF_UP)),
    )


def addr_add(ifname: str, index: int, address: str, prefixlen: int) -> Request:
    """``ip address add <address>/<prefixlen> dev <ifname>`` (IPv4)."""
    ip = str(ipaddress.IPv4Address(address))
    return Request(
        f"address add {ip}/{prefixlen} dev {ifname}",
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_EXCL,
        (
            ("family", socket.AF_INET),
            ("prefixlen", prefixlen),
            ("scope", rt_scope["universe"]),
            ("index", index),
        ),
        (("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)),
    )


def route_add(ifname: str, index: int, dst: str | None, gateway: str | None = None) -> Request:
    """``ip route add <dst|default> dev <ifname> [via <gateway>]``.

    ``dst`` None is the default route; without ``gateway`` the route is link-scoped.
    Protocol ``boot`` and table main are what ``ip route add`` sets by default.
    """
    attrs: list[tuple[str, Any]] = []
    if dst is not None:
        attrs.append(("RTA_DST", str(ipaddress.IPv4Address(dst))))
    if gateway is not None:
        attrs.append(("RTA_GATEWAY", str(ipaddress.IPv4Address(gateway))))
    attrs.append(("RTA_OIF", index))
    what = f"route add {dst or 'default'} dev {ifname}" + (f" via {gateway}" if gateway else "")
    return Request(
        what,
        RTM_NEWROUTE,
        NLM_F_CREATE | NLM_F_EXCL,
        (
            ("family", socket.AF_INET),
            ("dst_len", 0 if dst is None else 32),
            ("table", RT_TABLE_MAIN),
            ("proto", rt_proto["boot"]),
            ("scope", rt_scope["universe"] if gateway else rt_scope["link"]),
            ("type", rt_type["unicast"]),
        ),
        tuple(attrs),
    )


class Rtnl:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
        try:
            # extended acks: the kernel's own reason string, where it has one
            self._sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            self._sock.settimeout(TIMEOUT)
            self._sock.bind((0, 0))
        except BaseException:
            self._sock.close()
            raise

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def apply(self, requests: Sequence[Request]) -> None:
        """Send ``requests`` in one datagram, wait for every ack, raise the first failure."""
        if not requests:
            return
        self._sock.send(b"".join(r.encode(seq) for seq, r in enumerate(requests, 1)))
        codes: dict[int, tuple[int, str]] = {}
        try:
            while len(codes) < len(requests):
                data = self._sock.recv(65536)
                acks = _successes(data)
                if acks is None:  # a failure: pyroute2 reads its errno and ext-ack text
                    acks = [
                        (msg["header"]["sequence_number"], _ack_error(msg["header"]["error"]))
                        for msg in _MARSHAL.parse(data)
                        if msg["header"]["type"] == NLMSG_ERROR
                    ]
                for seq, result in acks:
                    if 0 < seq <= len(requests):
                        codes[seq] = result
        except TimeoutError as e:
            missing = next(s for s in range(1, len(requests) + 1) if s not in codes)
            raise command_error(_argv(requests[missing - 1]), -1, f"no ack in {TIMEOUT}s") from e
        for seq, request in enumerate(requests, 1):
            code, text = codes[seq]
            if code:  # no exit status here: the errno stands in for it
                raise command_error(_argv(request), code, text, errno=code)


def _successes(data: bytes) -> list[tuple[int, tuple[int, str]]] | None:
    """(seq, (0, "")) of each ack in ``data`` when every message is a successful ack
    (``NLMSG_ERROR`` with error 0), read from the headers alone; else None."""
    out, offset = [], 0
    while offset + _NLMSGHDR.size + 4 <= len(data):
        length, kind, _, seq, _ = _NLMSGHDR.unpack_from(data, offset)
        if kind != NLMSG_ERROR or length < _NLMSGHDR.size + 4:
            return None
        if struct.unpack_from("=i", data, offset + _NLMSGHDR.size)[0] != 0:
            return None
        out.append((seq, (0, "")))
        offset += (length + 3) & ~3  # NLMSG_ALIGN
    return out if offset == len(data) else None


def _ack_error(error: BaseException | None) -> tuple[int, str]:
    """errno and text of an ack as pyroute2's parser left it in ``header["error"]``.

    ``NetlinkError(code, text)``, ``text`` the extended-ack message or strerror;
    an ``OSError`` for ENOBUFS (0.9); None for success. The same in pyroute2 0.7 (Debian
    12's python3-pyroute2, used by the rootless test under the system Python) and 0.9.
    """
    if error is None:
        return 0, ""
    code = getattr(error, "code", None)  # NetlinkError; 0.7 makes one for some 0 acks
    if code is None:
        code = getattr(error, "errno", None)
    if code is None:
        return errno.EPROTO, f"cannot decode the ack: {error}"
    if code == 0:
        return 0, ""
    message = str(error.args[1]) if len(error.args) > 1 and error.args[1] else ""
    default = os.strerror(code)
    return int(code), default + (f": {message}" if message and message != default else "")


def _argv(request: Request) -> list[str]:
    return ["rtnetlink", *request.what.split()]


@dataclass(frozen=True)
class PodSide:
    """The pod end of a pod's wiring: what :func:`links.pod_config_batch` says in ``ip``."""

    netns_path: str  # /proc/<pause pid>/ns/net
    ip: str
    gateway: str
    ifname: str = "eth0"


def pod_requests(pod: PodSide, lo_index: int, if_index: int) -> list[Request]:
    """:func:`links.pod_config_batch` as requests, given the two interface indexes."""
    return [
        link_up("lo", lo_index),
        addr_add(pod.ifname, if_index, pod.ip, 32),
        link_up(pod.ifname, if_index),
        route_add(pod.ifname, if_index, pod.gateway),
        route_add(pod.ifname, if_index, None, gateway=pod.gateway),
    ]


def configure(pod: PodSide) -> None:
    """Configure one pod from a thread already inside its netns.

    if_nametoindex(3) opens its ioctl socket in the calling thread's netns too.
    """
    requests = pod_requests(pod, socket.if_nametoindex("lo"), socket.if_nametoindex(pod.ifname))
    with Rtnl() as rt:
        rt.apply(requests)


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
