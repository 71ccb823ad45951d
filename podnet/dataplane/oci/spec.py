"""A container's OCI runtime ``config.json``, built from plain data (pure).

What containerd's CRI plugin gives a Kubernetes container, and where podnet differs:

- namespaces: a new mount namespace and (unless the pod shares one) a new PID
  namespace; network, UTS and IPC are not listed, so the container inherits those of
  the process that starts crun, which podnet starts inside the pod's sandbox ("an
  unlisted namespace type is inherited": OCI runtime-spec config-linux.md). With
  ``shareProcessNamespace`` the PID namespace is joined by path.
- process: the CRI default capabilities (:mod:`.caps`), ``noNewPrivileges`` unless
  ``allowPrivilegeEscalation`` is true, Docker's seccomp profile (:mod:`.seccomp`), the
  user and groups from ``securityContext``.
- mounts: containerd's defaults (pkg/oci/mounts.go ``defaultMounts``): /proc, a tmpfs
  /dev with devpts, shm and mqueue, a read-only /sys; then the pod's files and the
  image's binds (:class:`Mount`).
- maskedPaths and readonlyPaths: containerd's (pkg/oci/spec.go ``populateDefaultUnixSpec``).
  A privileged container has neither, no seccomp, every capability and /sys read-write.
- no cgroups: crun runs with ``--cgroup-manager=disabled`` (a cgroup it made would
  outlive a SIGKILLed podnet), so ``linux.resources`` is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


@dataclass(frozen=True)
class Mount:
    """One OCI mount. A bind is ``type="bind"`` with ``rbind`` or ``bind`` in options."""

    destination: str
    source: str
    type: str = "bind"
    options: tuple[str, ...] = ("rbind", "ro", "nosuid", "nodev")

    def render(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "type": self.type,
            "source": self.source,
            "options": list(self.options),
        }


def bind(source: str, destination: str | None = None, *, writable: bool = False) -> Mount:
    """A recursive bind, read-only unless ``writable``; never suid or devices."""
    rw = "rw" if writable else "ro"
    return Mount(destination or source, source, "bind", ("rbind", rw, "nosuid", "nodev"))


def tmpfs(destination: str, *, mode: str = "1777", readonly: bool = False) -> Mount:
    opts = ("nosuid", "nodev", f"mode={mode}", *(("ro",) if readonly else ()))
    return Mount(destination, "tmpfs", "tmpfs", opts)


def default_mounts(*, privileged: bool = False, rootless: bool = False) -> tuple[Mount, ...]:
    """containerd's ``defaultMounts``: /proc, /dev (tmpfs), devpts, shm, mqueue, /sys.

    Rootless, devpts loses ``gid=5``: the tty group is not mapped in a user namespace
    that maps one id (mounting it fails with EINVAL), as rootless podman drops it."""
    sys_opts = ("nosuid", "noexec", "nodev", "rw" if privileged else "ro")
    pts = ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
    return (
        Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        Mount(
            "/dev/pts",
            "devpts",
            "devpts",
            pts if rootless else (*pts, "gid=5"),
        ),
        Mount(
            "/dev/shm", "shm", "tmpfs", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")
        ),
        Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        Mount("/sys", "sysfs", "sysfs", sys_opts),
    )


@dataclass(frozen=True)
class ContainerConfig:
    """Everything that decides a container's ``config.json``."""

    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    root: str  # the rootfs directory (absolute)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    caps: tuple[str, ...] = ()
    no_new_privileges: bool = True
    seccomp: dict[str, Any] | None = None
    seccomp_bpf: str | None = None  # base64 of a compiled filter (crun annotation)
    readonly_root: bool = False
    privileged: bool = False
    mounts: tuple[Mount, ...] = ()  # after the default mounts, in this order
    pid_namespace: str | None = None  # a path to join; None: a new one
    annotations: tuple[tuple[str, str], ...] = field(default=())
    rootless: bool = False  # in a user namespace mapping one id
    # ``tty: true``: the process gets a pty as its controlling terminal, its master sent
    # on the run's console socket (:mod:`.console`)
    terminal: bool = False


def render(cfg: ContainerConfig) -> dict[str, Any]:
    """The ``config.json`` document (OCI runtime-spec 1.0)."""
    caps = list(cfg.caps)
    process: dict[str, Any] = {
        "terminal": cfg.terminal,
        "user": {"uid": cfg.uid, "gid": cfg.gid, "additionalGids": list(cfg.groups)},
        "args": list(cfg.args),
        "env": [f"{k}={v}" for k, v in cfg.env],
        "cwd": cfg.cwd or "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
            # a non-root user keeps none after exec, as with containerd (no ambient)
            "inheritable": [],
        },
        "noNewPrivileges": cfg.no_new_privileges,
    }
    pid_ns: dict[str, str] = {"type": "pid"}
    if cfg.pid_namespace is not None:
        pid_ns["path"] = cfg.pid_namespace
    linux: dict[str, Any] = {"namespaces": [pid_ns, {"type": "mount"}]}
    if not cfg.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        if cfg.seccomp is not None and cfg.seccomp_bpf is None:
            linux["seccomp"] = cfg.seccomp
    annotations = dict(cfg.annotations)
    if cfg.seccomp_bpf is not None and not cfg.privileged:
        annotations["run.oci.seccomp_bpf_data"] = cfg.seccomp_bpf
    defaults = default_mounts(privileged=cfg.privileged, rootless=cfg.rootless)
    mounts = [m.render() for m in (*defaults, *cfg.mounts)]
    doc: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": cfg.root, "readonly": cfg.readonly_root},
        "mounts": mounts,
        "linux": linux,
    }
    if annotations:
        doc["annotations"] = annotations
    return doc


def process_only(cfg: ContainerConfig) -> dict[str, Any]:
    """The ``process`` object alone, for ``crun exec --process``: an exec gets the
    container's user, capabilities and no-new-privileges (runc/crun ``exec`` take
    them from the container's process unless told otherwise)."""
    proc: dict[str, Any] = render(cfg)["process"]
    return proc


def join_env(env: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{k}={v}" for k, v in env]
