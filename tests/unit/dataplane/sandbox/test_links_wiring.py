"""nsenter command lines (pure): which namespaces, and no fork."""

from __future__ import annotations

from podnet.dataplane.sandbox.wiring import Tools, ns_path

TOOLS = Tools(ip="/sbin/ip", nsenter="/usr/bin/nsenter")


def test_ns_path() -> None:
    assert ns_path(42) == "/proc/42/ns/net"
    assert ns_path(42, "uts") == "/proc/42/ns/uts"


def test_enter_pod_namespaces() -> None:
    argv = TOOLS.enter(7, ["net", "uts", "mount"], ["cat", "/etc/hosts"], wd="/srv")
    assert argv == [
        "/usr/bin/nsenter",
        "--net=/proc/7/ns/net",
        "--uts=/proc/7/ns/uts",
        "--mount=/proc/7/ns/mnt",
        "--wd=/srv",
        "--",
        "cat",
        "/etc/hosts",
    ]
    # never --pid/--user/--fork: those make nsenter fork and sit between podnet and argv
    assert not any(a.startswith(("--pid", "--user", "--fork", "-F")) for a in argv)


def test_ip_batch_in_a_netns() -> None:
    assert TOOLS.ip_batch(9) == [
        "/usr/bin/nsenter",
        "--net=/proc/9/ns/net",
        "--",
        "/sbin/ip",
        "-batch",
        "-",
    ]


def test_enter_with_no_argv_is_a_prefix() -> None:
    # the nft session appends its own argv to this prefix
    assert TOOLS.enter(3, ["net"], [])[-1] == "--"
