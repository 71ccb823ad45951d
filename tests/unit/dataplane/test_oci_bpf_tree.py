"""The seccomp filter as a binary tree decides every syscall as libseccomp's linear list.

Both filters are run by a classic-BPF interpreter (the instructions libseccomp emits)
over ``struct seccomp_data`` for every syscall number of the x86-64, i386 and x32 ABIs,
an unknown architecture, and the argument values the profile's rules compare.
"""

from __future__ import annotations

import base64
import ctypes
import itertools
import struct
from typing import Any

import pytest

from podnet.dataplane.oci import bpf, caps, seccomp

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_BIT = 0x40000000
U32 = 0xFFFFFFFF


def _run(prog: list[tuple[int, int, int, int]], data: bytes) -> int:
    """Classic BPF over ``data`` (seccomp_data): the verdict of a seccomp filter."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00:  # BPF_LD
            mode = code & 0xE0
            if mode == 0x20:  # BPF_ABS, BPF_W
                a = struct.unpack_from("<I", data, k)[0]
            elif mode == 0x00:  # BPF_IMM
                a = k
            elif mode == 0x60:  # BPF_MEM
                a = mem[k]
            else:
                raise AssertionError(f"ld mode {code:#x}")
        elif cls == 0x01:  # BPF_LDX
            x = k if code & 0xE0 == 0x00 else mem[k]
        elif cls == 0x02:  # BPF_ST
            mem[k] = a
        elif cls == 0x03:  # BPF_STX
            mem[k] = x
        elif cls == 0x04:  # BPF_ALU
            v = x if code & 0x08 else k
            op = code & 0xF0
            if op == 0x50:  # AND
                a &= v
            elif op == 0x40:  # OR
                a |= v
            elif op == 0x00:  # ADD
                a = (a + v) & U32
            elif op == 0x10:  # SUB
                a = (a - v) & U32
            else:
                raise AssertionError(f"alu {code:#x}")
        elif cls == 0x05:  # BPF_JMP
            op = code & 0xF0
            v = x if code & 0x08 else k
            if op == 0x00:  # JA
                pc += k
                continue
            taken = {0x10: a == v, 0x20: a > v, 0x30: a >= v, 0x40: bool(a & v)}[op]
            pc += jt if taken else jf
        elif cls == 0x06:  # BPF_RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:  # BPF_MISC
            if code & 0xF8 == 0x00:  # TAX
                x = a
            else:  # TXA
                a = x
        else:
            raise AssertionError(f"class {code:#x}")


def _prog(b64: str) -> list[tuple[int, int, int, int]]:
    raw = base64.b64decode(b64)
    return [struct.unpack_from("<HBBI", raw, i) for i in range(0, len(raw), 8)]


def _data(nr: int, arch: int, args: tuple[int, ...]) -> bytes:
    return struct.pack("<iIQ6Q", nr, arch, 0x1000, *args)


def _arg_values(profile: dict[str, Any]) -> list[int]:
    """The values the rules compare, and their neighbours: each side of every test."""
    out = {0, 1, U32, (1 << 64) - 1}
    for rule in profile["syscalls"]:
        for arg in rule.get("args") or []:
            for v in (arg["value"], arg.get("valueTwo", 0)):
                out |= {v, v ^ 1, (v + 1) % (1 << 64), (v - 1) % (1 << 64), v | (1 << 40)}
    return sorted(out)


def _arg_syscalls(profile: dict[str, Any]) -> list[tuple[int, int]]:
    """(arch, number) of each syscall a rule with arguments names, in the three ABIs."""
    lib = bpf._lib()
    assert lib is not None
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    i386 = lib.seccomp_arch_resolve_name(b"x86")
    out = []
    for rule in profile["syscalls"]:
        if rule.get("args"):
            for name in rule["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr >= 0:
                    out += [(AUDIT_ARCH_X86_64, nr), (AUDIT_ARCH_X86_64, nr | X32_BIT)]
                nr32 = lib.seccomp_syscall_resolve_name_arch(i386, name.encode())
                if nr32 >= 0:
                    out.append((AUDIT_ARCH_I386, nr32))
    assert out
    return out


@pytest.mark.parametrize("added", [(), ("SYS_ADMIN",)])
def test_tree_filter_decides_as_the_linear_one(added: tuple[str, ...]) -> None:
    profile = seccomp.profile(caps.effective(added), machine="x86_64")
    tree_b64 = bpf.compile_profile(profile)
    linear_b64 = bpf.compile_profile(profile, tree=False)
    if tree_b64 is None or linear_b64 is None:
        pytest.skip("libseccomp is not installed")
    tree, linear = _prog(tree_b64), _prog(linear_b64)
    assert tree != linear  # the attribute took: another program
    values = _arg_values(profile)
    checked = 0
    for arch, base in (
        (AUDIT_ARCH_X86_64, 0),
        (AUDIT_ARCH_X86_64, X32_BIT),
        (AUDIT_ARCH_I386, 0),
        (0xDEADBEEF, 0),
    ):
        for nr in range(base, base + 600):
            zero = _data(nr, arch, (0,) * 6)
            verdict = _run(linear, zero)
            assert _run(tree, zero) == verdict, (hex(arch), nr)
            checked += 1
    # every argument value in every position, for the syscalls whose rules test args
    for arch, nr in _arg_syscalls(profile):
        for pos, v in itertools.product(range(6), values):
            d = _data(nr, arch, tuple(v if i == pos else 0 for i in range(6)))
            assert _run(tree, d) == _run(linear, d), (hex(arch), nr, pos, v)
    assert checked == 2400
    allow = bpf.ACT_ALLOW
    assert _run(tree, _data(0, AUDIT_ARCH_X86_64, (0,) * 6)) == allow  # read
    mount = 165  # x86-64 mount(2): refused without CAP_SYS_ADMIN
    verdict = _run(tree, _data(mount, AUDIT_ARCH_X86_64, (0,) * 6))
    assert (verdict == allow) == bool(added)
