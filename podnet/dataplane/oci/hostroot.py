"""The "host program" image: a rootfs made of the host's read-only /usr and a curated /etc.

podnet's built-in images (busybox, nginx, agnhost, python, podnet/dns) are programs
installed on this machine. Run under crun they get a root that holds nothing of the
host but its programs: a skeleton directory (the mount points and the merged-usr links
``bin``, ``sbin``, ``lib``, ``lib64``) made once per cluster, the host's ``/usr`` bound
read-only and nosuid, an ``/etc`` of podnet's own (no shadow, a minimal passwd and
group, what the dynamic linker, name service and nginx read), the pod's own hosts,
resolv.conf and hostname, and private tmpfs ``/tmp``, ``/run``, ``/var``, ``/root``,
``/home``. podnet's Python code and interpreter are bound read-only only for the images
it implements in Python. The skeleton is shared by every container of the cluster and
mounted read-only: nothing in it is secret and nothing writes to it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from podnet.dataplane.oci.spec import Mount, bind, tmpfs
from podnet.paths import PODNET_ROOT

MERGED_USR = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")
PRIVATE_DIRS = ("/tmp", "/run", "/var", "/root", "/home")
POD_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname")

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """root:x:0:
daemon:x:1:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
"""
NSSWITCH = """passwd: files
group: files
hosts: files dns
networks: files
protocols: files
services: files
"""
# Copied from the host's /etc when present: nothing secret, what programs read.
COPIED = (
    "services",
    "protocols",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "nginx/mime.types",
    "ssl/certs",
    "ca-certificates.conf",
    "mime.types",
)


@dataclass(frozen=True)
class HostRoot:
    """A cluster's skeleton root and its curated /etc, made once (:func:`make`)."""

    root: Path

    def mounts(
        self,
        *,
        python: bool,
        readonly: bool,
        extra: tuple[Mount, ...] = (),
    ) -> tuple[Mount, ...]:
        """The binds and tmpfs of one container, after :func:`spec.default_mounts`."""
        out = [bind("/usr")]
        for name in MERGED_USR:
            host = Path("/") / name
            if host.is_dir() and not host.is_symlink():
                out.append(bind(str(host)))
        out += [tmpfs(d, readonly=readonly) for d in PRIVATE_DIRS]
        # the pod's files as the pause sees them (crun runs in its mount namespace)
        out += [bind(f, writable=False) for f in POD_FILES]
        if python:
            out += [bind(p) for p in python_paths()]
        out += extra
        return tuple(out)


def python_paths() -> list[str]:
    """podnet's package, the virtualenv (site-packages: dnslib) and the interpreter's
    installation, each only when it is not under /usr already; dnslib's package when
    none of these holds it."""
    paths = [str(Path(PODNET_ROOT) / "podnet"), sys.prefix, sys.base_prefix]
    real = os.path.realpath(sys.executable)
    if not any(real.startswith(p.rstrip("/") + "/") for p in paths[1:]):
        paths.append(os.path.dirname(real))
    # the DNS server's one dependency, wherever it is installed (a rootless run puts
    # it beside podnet in one directory, which is not bound whole)
    spec = importlib.util.find_spec("dnslib")
    if spec is not None and spec.submodule_search_locations:
        dnslib = str(spec.submodule_search_locations[0])
        if not any(dnslib.startswith(p.rstrip("/") + "/") for p in paths):
            paths.append(dnslib)
    out: list[str] = []
    for p in paths:
        if p.startswith("/usr/") or p == "/usr" or p in out:
            continue
        out.append(p)
    return out


def _copy_etc(etc: Path) -> None:
    for name in COPIED:
        src = Path("/etc") / name
        dst = etc / name
        if not (src.exists() or src.is_symlink()):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        elif src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copyfile(src, dst)


def make(state_dir: Path, *, mount_points: tuple[str, ...] = ()) -> HostRoot:
    """Create ``state_dir/hostroot`` (idempotent): the skeleton, /etc, mount points.

    ``mount_points`` are absolute directories that binds will cover (podnet's Python,
    the busybox applet directory); made here so crun never writes the shared skeleton.
    """
    root = state_dir / "hostroot"
    if (root / ".done").exists():
        return HostRoot(root)
    tmp = state_dir / f".hostroot.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for d in ("usr", "etc", "proc", "dev", "sys", *(p.lstrip("/") for p in PRIVATE_DIRS)):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    for name in MERGED_USR:
        host = Path("/") / name
        if host.is_symlink():
            os.symlink(os.readlink(host), tmp / name)
        elif host.is_dir():
            (tmp / name).mkdir()
    etc = tmp / "etc"
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "nsswitch.conf").write_text(NSSWITCH)
    for f in POD_FILES:
        (tmp / f.lstrip("/")).touch()
    _copy_etc(etc)
    for p in (*python_paths(), *mount_points):
        (tmp / p.lstrip("/")).mkdir(parents=True, exist_ok=True)
    (tmp / ".done").touch()
    try:
        os.rename(tmp, root)
    except OSError:  # another thread or cluster made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return HostRoot(root)
