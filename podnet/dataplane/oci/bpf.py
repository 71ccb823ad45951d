"""A seccomp profile compiled to BPF once, with libseccomp, for crun to load as is.

crun compiles an OCI ``linux.seccomp`` section with libseccomp on every container start;
for Docker's profile that is most of a container's start-up (tens of ms). crun also
takes a compiled filter, base64 in the annotation ``run.oci.seccomp_bpf_data`` (crun(1):
"crun ignores the seccomp section in the OCI configuration file and use the specified
data as the raw data to the seccomp(SECCOMP_SET_MODE_FILTER) syscall"), so podnet
compiles each profile once per cluster with the same library (through ctypes:
``seccomp_init``, ``seccomp_arch_add``, ``seccomp_rule_add_array``,
``seccomp_export_bpf``) and hands crun the result. Without libseccomp the profile is
passed as JSON, which crun compiles itself.

The filter is a binary tree over the syscall numbers (libseccomp's
``SCMP_FLTATR_CTL_OPTIMIZE`` = 2, libseccomp >= 2.5), not libseccomp's default linear
list: the same verdicts (a unit test runs both on every syscall number), but when a
filter is attached the kernel runs it for every syscall number of both x86 ABIs (the
action cache, ``seccomp_cache_prepare``, with the task's siglock held): through ~300
comparisons that took ~0.6 ms of CPU per container start, ~0.2 ms as a tree.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import tempfile
from typing import Any

ACT_ALLOW = 0x7FFF0000
ACT_ERRNO = 0x00050000
ATTR_OPTIMIZE = 8  # SCMP_FLTATR_CTL_OPTIMIZE (seccomp.h, libseccomp >= 2.5.0)
OPTIMIZE_TREE = 2  # its binary tree sorted by syscall number
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}  # fmt: skip


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _lib() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    return lib


def _action(rule: dict[str, Any], default_errno: int) -> int:
    if rule["action"] == "SCMP_ACT_ALLOW":
        return ACT_ALLOW
    if rule["action"] == "SCMP_ACT_ERRNO":
        return ACT_ERRNO | (int(rule.get("errnoRet", default_errno)) & 0xFFFF)
    raise ValueError(f"unsupported seccomp action {rule['action']}")


def compile_profile(profile: dict[str, Any], *, tree: bool = True) -> str | None:
    """The profile as base64 BPF, or None when libseccomp is not available; ``tree``:
    a binary tree over the syscall numbers where libseccomp builds one (else, and with
    ``tree=False``, libseccomp's linear list)."""
    lib = _lib()
    if lib is None:
        return None
    errno = int(profile.get("defaultErrnoRet", 1))
    if profile["defaultAction"] != "SCMP_ACT_ERRNO":
        raise ValueError("only an SCMP_ACT_ERRNO default is supported")
    ctx = lib.seccomp_init(ACT_ERRNO | errno)
    if not ctx:
        return None
    try:
        if tree:  # an older libseccomp refuses the attribute (-EINVAL): a linear list
            lib.seccomp_attr_set(ctx, ATTR_OPTIMIZE, OPTIMIZE_TREE)
        for arch in profile.get("architectures", []):
            token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
            rc = lib.seccomp_arch_add(ctx, token) if token else 0
            if rc not in (0, -17):  # -EEXIST: the native architecture is there already
                raise OSError(-rc, f"seccomp_arch_add {arch}")
        for rule in profile["syscalls"]:
            action = _action(rule, errno)
            args = rule.get("args") or []
            arr = (_ArgCmp * max(len(args), 1))(
                *(_ArgCmp(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0)) for a in args)
            )
            for name in rule["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:  # not a syscall of this machine (crun skips those too)
                    continue
                rc = lib.seccomp_rule_add_array(ctx, action, nr, len(args), arr)
                if rc != 0:
                    raise OSError(-rc, f"seccomp_rule_add {name}")
        with tempfile.TemporaryFile() as f:
            rc = lib.seccomp_export_bpf(ctx, f.fileno())
            if rc != 0:
                raise OSError(-rc, "seccomp_export_bpf")
            f.seek(0)
            data = f.read()
        return base64.b64encode(data).decode()
    finally:
        lib.seccomp_release(ctx)
