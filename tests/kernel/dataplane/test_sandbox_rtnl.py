"""The pod-side rtnetlink client (pyroute2 messages): encoding, and against the kernel.

The encoding tests decode what :mod:`podnet.dataplane.sandbox.rtnl` sends with pyroute2's own
parser and compare it with what ``ip`` sends for the same line. The kernel tests run
in a child under ``unshare --net``, so nothing reaches the host's namespaces.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys

import pytest
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import (  # type: ignore[import-untyped]
    NetlinkDecodeError,
    NetlinkError,
)
from pyroute2.netlink.rtnl import RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE  # type: ignore[import-untyped]
from pyroute2.netlink.rtnl.marshal import MarshalRtnl  # type: ignore[import-untyped]
from support.sandbox import driver_env, require_kernel

from podnet.dataplane.sandbox import rtnl
from podnet.errors import CommandError, PermissionDeniedError

pytestmark = pytest.mark.kernel

POD = rtnl.PodSide("/proc/self/ns/net", "10.244.3.7", "10.244.3.1", ifname="v0")


def decode(request: rtnl.Request, seq: int = 7) -> dict[str, object]:
    (msg,) = MarshalRtnl().parse(request.encode(seq))
    header = msg["header"]
    assert header["sequence_number"] == seq
    assert header["flags"] & (NLM_F_REQUEST | NLM_F_ACK) == NLM_F_REQUEST | NLM_F_ACK
    out: dict[str, object] = {name: msg[name] for name, _ in msg.fields}
    out.update(dict(msg["attrs"]))
    out["msg_type"] = header["type"]
    out["nl_flags"] = header["flags"] & ~(NLM_F_REQUEST | NLM_F_ACK)
    return out


def test_pod_requests_are_the_ip_batch_lines_in_order() -> None:
    whats = [r.what for r in rtnl.pod_requests(POD, 1, 5)]
    assert whats == [
        "link set lo up",
        "address add 10.244.3.7/32 dev v0",
        "link set v0 up",
        "route add 10.244.3.1 dev v0",
        "route add default dev v0 via 10.244.3.1",
    ]


def test_link_up_encoding() -> None:
    m = decode(rtnl.link_up("v0", 5))
    assert (m["msg_type"], m["index"], m["flags"], m["change"]) == (RTM_NEWLINK, 5, 1, 1)
    assert m["nl_flags"] == 0


def test_addr_add_encoding() -> None:
    m = decode(rtnl.addr_add("v0", 5, "10.244.3.7", 32))
    assert m["msg_type"] == RTM_NEWADDR
    assert (m["family"], m["prefixlen"], m["index"], m["scope"]) == (socket.AF_INET, 32, 5, 0)
    assert (m["IFA_LOCAL"], m["IFA_ADDRESS"]) == ("10.244.3.7", "10.244.3.7")
    assert m["nl_flags"] == NLM_F_CREATE | NLM_F_EXCL


def test_route_encodings() -> None:
    onlink = decode(rtnl.route_add("v0", 5, "10.244.3.1"))
    assert onlink["msg_type"] == RTM_NEWROUTE
    assert (onlink["dst_len"], onlink["scope"], onlink["proto"], onlink["table"]) == (
        32,
        253,
        3,
        254,
    )
    assert (onlink["RTA_DST"], onlink["RTA_OIF"]) == ("10.244.3.1", 5)
    assert "RTA_GATEWAY" not in onlink
    default = decode(rtnl.route_add("v0", 5, None, gateway="10.244.3.1"))
    assert (default["dst_len"], default["scope"], default["RTA_GATEWAY"]) == (0, 0, "10.244.3.1")
    assert "RTA_DST" not in default
    assert default["nl_flags"] == NLM_F_CREATE | NLM_F_EXCL


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (None, 0, ""),
        (NetlinkError(0), 0, ""),
        (NetlinkError(errno.EEXIST), errno.EEXIST, "File exists"),
        (
            NetlinkError(errno.EINVAL, "Nexthop has invalid gateway"),
            errno.EINVAL,
            "Invalid argument: Nexthop has invalid gateway",
        ),
        (OSError(errno.ENOBUFS, "x"), errno.ENOBUFS, "No buffer space available: x"),
        (NetlinkDecodeError(ValueError("bad")), errno.EPROTO, None),
    ],
)
def test_ack_errors(error: BaseException | None, code: int, text: str | None) -> None:
    got = rtnl._ack_error(error)
    assert got[0] == code
    if text is not None:
        assert got[1] == text


def test_bad_address_is_rejected_before_any_socket() -> None:
    with pytest.raises(ValueError):
        rtnl.addr_add("v0", 5, "10.244.3.300", 32)


SCRIPT = """
import errno, json, subprocess, threading
from podnet.dataplane.sandbox import rtnl
from podnet.errors import CommandError, NotSupportedError
out = {}
subprocess.run(['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'], check=True)
pod = rtnl.PodSide('/proc/self/ns/net', '10.244.3.7', '10.244.3.1', ifname='v0')
before = threading.active_count()
rtnl.configure_pods([pod])
out['threads_left'] = threading.active_count() - before
try:
    rtnl.configure_pods([pod])
except CommandError as e:
    out['dup'] = [type(e).__name__, e.returncode, e.errno, list(e.argv)]
# a failure in the middle: the kernel goes on with the rest of the datagram, and the
# first failure in request order is the one raised (the default route fails too: v0's)
subprocess.run(['ip', 'link', 'add', 'w0', 'type', 'veth', 'peer', 'name', 'w1'], check=True)
subprocess.run(['ip', 'address', 'add', '10.244.4.7/32', 'dev', 'w0'], check=True)
try:
    rtnl.configure_pods([rtnl.PodSide('/proc/self/ns/net', '10.244.4.7', '10.244.4.1', 'w0')])
except CommandError as e:
    out['first'] = [e.errno, list(e.argv)]
try:
    rtnl.configure_pods([rtnl.PodSide('/proc/self/ns/net', '10.244.5.7', '10.244.5.1', 'nope')])
except NotSupportedError as e:
    out['missing'] = type(e).__name__
for argv in (['ip', '-4', '-o', 'addr', 'show'], ['ip', 'route'], ['ip', '-o', 'link']):
    out[argv[-1] if argv[-1] != 'show' else 'addr'] = subprocess.run(
        argv, capture_output=True, text=True).stdout
print(json.dumps(out))
"""


def run_in_scratch_netns(script: str) -> str:
    out = subprocess.run(
        ["unshare", "--net", "--", sys.executable, "-c", script],
        env=driver_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_configure_pods_like_ip_and_maps_errors() -> None:
    require_kernel()
    import json

    out = json.loads(run_in_scratch_netns(SCRIPT))
    assert out["threads_left"] == 0
    assert out["dup"] == [
        "CommandError",
        errno.EEXIST,
        errno.EEXIST,
        ["rtnetlink", "address", "add", "10.244.3.7/32", "dev", "v0"],
    ]
    assert out["first"] == [
        errno.EEXIST,
        ["rtnetlink", "address", "add", "10.244.4.7/32", "dev", "w0"],
    ]
    assert out["missing"] == "NotSupportedError"
    assert "10.244.3.7/32" in out["addr"]
    assert "default via 10.244.3.1 dev v0" in out["route"]
    assert "10.244.3.1 dev v0 scope link" in out["route"]
    # after the failed address: w0 still went up and got its onlink route
    assert "10.244.4.1 dev w0 scope link" in out["route"]
    assert any("w0@w1: <" in line and ",UP" in line for line in out["link"].splitlines())
    assert "lo: <LOOPBACK,UP" in out["link"]


def test_eperm_is_permission_denied() -> None:
    """A user without CAP_NET_ADMIN gets PermissionDeniedError, as from a failed ``ip``."""
    require_kernel()
    script = (
        "import json, os, subprocess\n"
        "from podnet.dataplane.sandbox import rtnl\n"
        "from podnet.errors import PermissionDeniedError\n"
        "subprocess.run(['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'],"
        " check=True)\n"
        "os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
        "try:\n"
        "    with rtnl.Rtnl() as rt:\n"
        "        rt.apply([rtnl.addr_add('v0', __import__('socket').if_nametoindex('v0'),"
        " '10.244.3.7', 32)])\n"
        "except PermissionDeniedError as e:\n"
        "    print(json.dumps([type(e).__name__, e.errno, e.argv[0]]))\n"
    )
    got = run_in_scratch_netns(script).strip()
    assert got == f'["PermissionDeniedError", {errno.EPERM}, "rtnetlink"]'
    assert issubclass(PermissionDeniedError, CommandError)
