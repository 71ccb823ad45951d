"""Which nsenter starts a pod's processes (pure): busybox's static applet when found
and the program is named by its path, util-linux's for everything else; and the
static-ELF test that decides it."""

from __future__ import annotations

import struct
from pathlib import Path

from podnet.dataplane.sandbox.wiring import PT_INTERP, Tools, is_static_elf

BUSYBOX = Tools(ip="/sbin/ip", nsenter="/usr/bin/nsenter", pod_nsenter=("/bin/busybox", "nsenter"))


def test_a_pod_process_goes_through_the_pod_nsenter_with_the_same_options() -> None:
    argv = BUSYBOX.enter(7, ["net", "mount"], ["/usr/bin/crun", "run"], wd="/", pod=True)
    assert argv == [
        "/bin/busybox",
        "nsenter",
        "--net=/proc/7/ns/net",
        "--mount=/proc/7/ns/mnt",
        "--wd=/",
        "--",
        "/usr/bin/crun",
        "run",
    ]
    # a bare name is found on PATH by util-linux's nsenter: busybox would run its own
    # applet of that name instead (its sleep, its ip)
    assert BUSYBOX.enter(7, ["net"], ["sleep", "1"], pod=True)[0] == "/usr/bin/nsenter"
    # a node's commands (ip -batch, the nft session) keep util-linux's nsenter
    assert BUSYBOX.ip_batch(9)[0] == "/usr/bin/nsenter"
    assert BUSYBOX.enter(3, ["net"], [])[:2] == ["/usr/bin/nsenter", "--net=/proc/3/ns/net"]


def test_without_busybox_a_pod_process_uses_util_linux() -> None:
    plain = Tools(ip="/sbin/ip", nsenter="/usr/bin/nsenter")
    assert plain.enter(7, ["net"], ["/bin/true"], pod=True)[0] == "/usr/bin/nsenter"


def _elf(path: Path, types: list[int]) -> Path:
    """A 64-bit little-endian ELF header and a program header table of ``types``."""
    phoff, phentsize = 64, 56
    head = bytearray(64)
    head[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", head, 32, phoff)
    struct.pack_into("<HH", head, 54, phentsize, len(types))
    table = b"".join(struct.pack("<I", t) + bytes(phentsize - 4) for t in types)
    path.write_bytes(bytes(head) + table)
    return path


def test_static_elf_is_one_without_a_program_interpreter(tmp_path: Path) -> None:
    assert is_static_elf(str(_elf(tmp_path / "static", [1, 1, 4])))
    assert not is_static_elf(str(_elf(tmp_path / "dynamic", [6, PT_INTERP, 1])))
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert not is_static_elf(str(tmp_path / "script"))
    assert not is_static_elf(str(tmp_path / "missing"))
    # a table cut short is not trusted
    short = _elf(tmp_path / "short", [1, 1])
    short.write_bytes(short.read_bytes()[:-10])
    assert not is_static_elf(str(short))
