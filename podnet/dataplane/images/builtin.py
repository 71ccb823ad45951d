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
GETENT = "/usr/bin/getent"  # glibc's (libc-bin): what wget's lookup uses, bounded


def busybox_applets() -> list[str]:
    """Applet names of this machine's busybox (``busybox --list``)."""
    import subprocess

    if not os.path.exists(BUSYBOX):
        return []
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=False)
    return [a for a in out.stdout.split() if a and "/" not in a]


# Debian's busybox 1.35 (busybox-static) is built without wget's -T/--timeout
# (FEATURE_WGET_TIMEOUT: `wget -T 2` segfaults) and nc's -z/-v, which upstream's busybox
# image has and Kubernetes docs use (`wget -qO- -T 2 URL`, `nc -z -w 1 HOST PORT`). A
# wrapper script cannot simply come first on PATH: busybox's shell runs its own applets
# before searching PATH (FEATURE_SH_STANDALONE). So the image's busybox is a copy whose
# applet table names these two applets differently (same length, same sort order:
# busybox looks applets up in that sorted table), so its shell finds the wrappers on
# PATH; the wrappers run the real applets of the unmodified /bin/busybox.
RENAMED = {b"\0wget\0": b"\0wge_\0", b"\0nc\0": b"\0nd\0"}

WGET = r"""#!{busybox} sh
# wget with -T SEC / --timeout=SEC, which this busybox lacks: the whole download is
# bounded by `timeout` instead of each read (close enough for probes and tests).
t=
n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case $a in
    -T|--timeout) t=$1; shift; n=$((n - 1)); continue ;;
    -T*) t=${{a#-T}}; continue ;;
    --timeout=*) t=${{a#--timeout=}}; continue ;;
  esac
  set -- "$@" "$a"
done
[ -z "$t" ] && exec {real} wget "$@"
# Upstream bounds each read by the timeout, not the name lookup (FEATURE_WGET_TIMEOUT:
# "timeout is not applied to the DNS query"), and a name that cannot be resolved is
# "bad address 'HOST'" (xhost2sockaddr): so resolve the URL's host first, bounded by the
# timeout, through the same NSS (getent ahosts: files, then DNS with the search list),
# then fetch. Options that take a value are skipped to find the URL.
url=
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case $a in
    --header|--post-data|--post-file|--output-document|--output-file) skip=1 ;;
    --directory-prefix|--proxy|--user-agent|--tries) skip=1 ;;
    --*|-) ;;
    -?*)
      r=${{a#-}}
      while [ -n "$r" ]; do
        c=${{r%"${{r#?}}"}}; r=${{r#?}}
        case $c in [OoPYUt]) [ -z "$r" ] && skip=1; break ;; esac
      done ;;
    *) [ -z "$url" ] && url=$a ;;
  esac
done
case $url in http://*|https://*|ftp://*) h=${{url#*://}} ;; *) h=$url ;; esac
h=${{h%%[/?#]*}}
h=${{h##*@}}
case $h in \[*) name=${{h#?}}; name=${{name%%]*}} ;; *) name=${{h%:*}} ;; esac
if [ -n "$name" ] && [ -z "$http_proxy" ] && [ -x {getent} ]; then
  if ! {busybox} timeout "$t" {getent} ahosts "$name" >/dev/null 2>&1; then
    echo "wget: bad address '$h'" >&2
    exit 1
  fi
fi
# timeout reports "Terminated" on its stderr, which upstream's wget never prints
{busybox} timeout "$t" {busybox} sh -c 'exec "$0" wget "$@" 2>&3' {real} "$@" 3>&2 2>/dev/null
rc=$?
if [ "$rc" -eq 143 ]; then echo "wget: download timed out" >&2; exit 1; fi
exit "$rc"
"""

NC = """#!{busybox} sh
# nc with -z (connect, send nothing, exit 0 if the port is open) and -v, which this
# busybox lacks: -z becomes `-e true` (run `true` on the connection and close it).
z=
n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case $a in
    --*) ;;
    -*[zv]*)
      case $a in *z*) z=1 ;; esac
      a=$(echo "$a" | tr -d zv)
      [ "$a" = "-" ] && continue ;;
  esac
  set -- "$@" "$a"
done
[ -n "$z" ] && exec {real} nc "$@" -e true
exec {real} nc "$@"
"""


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)  # atomic: concurrent clusters never see a half file


def patched_busybox(data: bytes) -> bytes | None:
    """The busybox binary with wget and nc renamed in its applet table, or None when
    the table is not as expected (another busybox build: then no wrappers)."""
    for old, new in RENAMED.items():
        if data.count(old) != 1 or len(old) != len(new):
            return None
        data = data.replace(old, new)
    return data


def make_applet_dir(state_dir: Path) -> Path:
    """``state_dir/busybox-bin``: the image's busybox (:data:`RENAMED`), one symlink to
    it per applet, and the ``wget`` and ``nc`` wrappers (idempotent)."""
    bindir = state_dir / "busybox-bin"
    bindir.mkdir(parents=True, exist_ok=True)
    copy = bindir / "busybox"
    wrapped = False
    if not copy.exists():
        with open(BUSYBOX, "rb") as f:
            patched = patched_busybox(f.read())
        if patched is not None:
            _write_atomic(copy, patched, 0o755)
    target = str(copy) if copy.exists() else BUSYBOX
    if copy.exists():
        wrapped = True
        for name, text in (("wget", WGET), ("nc", NC)):
            script = text.format(busybox=copy, real=BUSYBOX, getent=GETENT)
            _write_atomic(bindir / name, script.encode(), 0o755)
    for applet in busybox_applets():
        link = bindir / applet
        if applet == "busybox" or (wrapped and applet in ("wget", "nc")):
            continue
        if not link.is_symlink():
            tmp = bindir / f".{applet}.tmp{os.getpid()}"
            os.symlink(target, tmp)
            os.replace(tmp, link)  # atomic: concurrent clusters never see a half dir
    return bindir


def _busybox(state_dir: Path) -> Image:
    applets = busybox_applets()
    bindir = make_applet_dir(state_dir) if applets else None
    path = f"{bindir}:{DEFAULT_PATH}" if bindir else DEFAULT_PATH
    exe = str(bindir / "busybox") if bindir and (bindir / "busybox").exists() else BUSYBOX
    programs: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
        (a, (str(bindir / a),) if bindir and a in ("wget", "nc") and exe != BUSYBOX else (exe, a))
        for a in applets
    )
    programs += (("busybox", (exe,)),)
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
