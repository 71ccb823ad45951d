"""Linux capabilities of a container: the CRI default set and securityContext changes (pure).

The default set is containerd's (``oci.WithDefaultCapabilities``, pkg/cap and
pkg/oci/spec.go ``defaultUnixCaps``), which is also Docker's: no ``NET_ADMIN``,
``SYS_ADMIN``, ``SYS_MODULE`` or ``SYS_PTRACE``. ``MKNOD`` is dropped too: without a
device cgroup (podnet runs crun with ``--cgroup-manager=disabled``) nothing else would
stop a container creating a node for the host's disk. ``capabilities.add``/``drop``
follow kubelet and containerd (pkg/cri/opts ``WithCapabilities``): names without the
``CAP_`` prefix, ``ALL`` in ``drop`` clears the set first and in ``add`` grants every
capability; a privileged container has them all.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Every capability of Linux 6.x (capability(7)), numbered; CAP_LAST_CAP is 40.
ALL = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


class CapabilityError(ValueError):
    """A capability name Linux does not have."""


def normalize(name: str) -> str:
    """``NET_ADMIN``, ``net_admin`` or ``CAP_NET_ADMIN`` -> ``CAP_NET_ADMIN``."""
    up = name.strip().upper()
    if up == "ALL":
        return up
    full = up if up.startswith("CAP_") else f"CAP_{up}"
    if full not in ALL:
        raise CapabilityError(f"unknown capability {name!r}")
    return full


def effective(
    add: Iterable[str] = (), drop: Iterable[str] = (), *, privileged: bool = False
) -> tuple[str, ...]:
    """The container's capability set, in ``ALL`` order.

    containerd's order (pkg/cri/opts ``WithCapabilities``): ``add: [ALL]`` grants all,
    then ``drop: [ALL]`` clears, then the named adds, then the named drops; so
    ``add: [ALL], drop: [CHOWN]`` is everything but CHOWN, ``drop: [ALL], add:
    [NET_BIND_SERVICE]`` only that one.
    """
    if privileged:
        return ALL
    adds = [normalize(c) for c in add]
    drops = [normalize(c) for c in drop]
    caps = set(DEFAULT)
    if "ALL" in adds:
        caps = set(ALL)
    if "ALL" in drops:
        caps = set()
    caps |= {c for c in adds if c != "ALL"}
    caps -= set(drops)
    return tuple(c for c in ALL if c in caps)


def bounding() -> frozenset[str]:
    """The capabilities this process may pass on (its bounding set, /proc/self/status
    ``CapBnd``): a container cannot be given more (capset fails with EPERM), so a
    privileged container gets these, as runc/containerd give "all" of the host's."""
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("CapBnd:"))
    except (OSError, StopIteration):
        return frozenset(ALL)
    bits = int(line.split()[1], 16)
    return frozenset(c for i, c in enumerate(ALL) if bits >> i & 1)
