"""The images podnet knows out of the box, and where each one's program comes from.

ENTRYPOINT/CMD follow the upstream images so that manifests written for a real cluster
behave the same:

* ``busybox``: no ENTRYPOINT, CMD ``["sh"]`` (docker-library/busybox Dockerfile); every
  applet (``sh``, ``wget``, ``nc``, ``nslookup``...) is Debian's ``/bin/busybox``, reached
  through a per-cluster directory of symlinks placed first on ``PATH``.
* ``nginx``: ENTRYPOINT ``["/docker-entrypoint.sh"]``, CMD ``["nginx", "-g", "daemon off;"]``
  (nginxinc/docker-nginx); Debian's nginx with a generated per-container config
  (:mod:`podnet.dataplane.images.nginx`).
* ``agnhost`` (registry.k8s.io/e2e-test-images/agnhost): ENTRYPOINT ``["/agnhost"]``
  (kubernetes test/images/agnhost/Dockerfile), implemented by
  :mod:`podnet.dataplane.images.agnhost`.
* ``python``: CMD ``["python3"]``; this interpreter.
* ``podnet/dns``: podnet's cluster DNS server (:mod:`podnet.dataplane.dns.server`).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from podnet.dataplane.images.image import DEFAULT_PATH, Image
from podnet.dataplane.images.nginx import preparer
from podnet.errors import ImageError
from podnet.paths import PODNET_ROOT

BUSYBOX = "/bin/busybox"


def busybox_applets() -> list[str]:
    """Applet names of this machine's busybox (``busybox --list``)."""
    import subprocess

    if not os.path.exists(BUSYBOX):
        return []
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=False)
    return [a for a in out.stdout.split() if a and "/" not in a]


def make_applet_dir(state_dir: Path) -> Path:
    """``state_dir/busybox-bin`` with one symlink per applet (idempotent)."""
    bindir = state_dir / "busybox-bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for applet in busybox_applets():
        link = bindir / applet
        if not link.is_symlink():
            tmp = bindir / f".{applet}.tmp{os.getpid()}"
            os.symlink(BUSYBOX, tmp)
            os.replace(tmp, link)  # atomic: concurrent clusters never see a half dir
    return bindir


def _busybox(state_dir: Path) -> Image:
    applets = busybox_applets()
    bindir = make_applet_dir(state_dir) if applets else None
    path = f"{bindir}:{DEFAULT_PATH}" if bindir else DEFAULT_PATH
    programs: tuple[tuple[str, tuple[str, ...]], ...] = tuple((a, (BUSYBOX, a)) for a in applets)
    programs += (("busybox", (BUSYBOX,)),)
    return Image(name="busybox", cmd=("sh",), env=(("PATH", path),), programs=programs)


def _nginx(port: int) -> Image:
    nginx = shutil.which("nginx", path=DEFAULT_PATH) or "/usr/sbin/nginx"
    return Image(
        name="nginx",
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        programs=(
            ("/docker-entrypoint.sh", ()),  # the upstream script ends in exec "$@"
            ("nginx", (nginx,)),
        ),
        prepare=preparer(nginx, port),
    )


def _pyenv() -> tuple[tuple[str, str], ...]:
    return (("PATH", DEFAULT_PATH), ("PYTHONPATH", PODNET_ROOT))


def _agnhost() -> Image:
    prog = (sys.executable, "-m", "podnet.dataplane.images.agnhost")
    return Image(
        name="e2e-test-images/agnhost",
        entrypoint=("/agnhost",),
        env=_pyenv(),
        programs=(("/agnhost", prog), ("agnhost", prog)),
    )


def _python() -> Image:
    py = (sys.executable,)
    names = ("python", "python3", "/usr/local/bin/python", "/usr/local/bin/python3")
    return Image(
        name="python",
        cmd=("python3",),
        env=(("PATH", DEFAULT_PATH),),
        programs=tuple((n, py) for n in names),
    )


def _dns() -> Image:
    return Image(
        name="podnet/dns",
        entrypoint=(sys.executable, "-m", "podnet.dataplane.dns"),
        cmd=("--listen", "0.0.0.0:53", "--workers", "2", "--metrics", "0.0.0.0:9153"),
        env=_pyenv(),
    )


def builtin_images(state_dir: Path, *, nginx_port: int = 80) -> list[Image]:
    if not 0 < nginx_port < 65536:
        raise ImageError(f"nginx port {nginx_port} out of range")
    agnhost = _agnhost()
    return [
        _busybox(state_dir),
        _nginx(nginx_port),
        agnhost,
        replace(agnhost, name="agnhost"),
        _python(),
        _dns(),
    ]
