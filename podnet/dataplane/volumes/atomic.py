"""Files of a configMap/secret/downwardAPI/projected volume, swapped in atomically.

As upstream's AtomicWriter (pkg/volume/util/atomic_writer.go): the payload is written
into a new hidden timestamped directory ``..<timestamp>``, a symlink ``..data`` points
at it (replaced by rename(2) of ``..data_tmp``, atomic), and each top-level name the
user sees is a symlink ``name -> ..data/name``. A container that has the directory
bind-mounted sees the old set of files or the new one, never a mix, and sees an update
without a restart (a ``subPath`` mount, bound to one file, does not: as upstream).

With the pod's ``fsGroup``, every file, directory and link of the volume belongs to that
group, files are readable by it (``mode | 0440``: these volumes are read-only) and
directories are setgid, as kubelet's SetVolumeOwnership leaves them
(pkg/volume/volume_linux.go): a secret of mode 0400 is readable by a non-root container
whose pod sets fsGroup.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA = "..data"
DATA_TMP = "..data_tmp"


class PayloadError(ValueError):
    """A path in the payload that would leave the volume (``..``, absolute)."""


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644
    owner: int | None = None  # a uid for the file (the token's FsUser), else root's


Payload = Mapping[str, FileProjection]


def validate_path(path: str) -> None:
    """atomic_writer.go ``validatePath``: relative, no ``..`` element, not ``..``-led."""
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if path.startswith("/"):
        raise PayloadError(f"invalid path {path!r}: must be relative")
    if len(path) > 4096:
        raise PayloadError(f"invalid path {path!r}: must be less than 4096 characters")
    parts = path.split("/")
    if ".." in parts:
        raise PayloadError(f"invalid path {path!r}: must not contain '..'")
    if path.startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must not start with '..'")


def _current(target: Path) -> dict[str, FileProjection] | None:
    data = target / DATA
    if not data.is_symlink():
        return None
    found: dict[str, FileProjection] = {}
    base = target / os.readlink(data)
    for root, _dirs, files in os.walk(base):
        for name in files:
            p = Path(root) / name
            st = p.lstat()
            found[str(p.relative_to(base))] = FileProjection(
                p.read_bytes(), st.st_mode & 0o7777, st.st_uid
            )
    return found


def _own_dir(d: Path, group: int | None) -> None:
    if group is not None:
        os.chown(d, -1, group)
        os.chmod(d, 0o2755)  # 0755 | 0440 | 0110 | setgid


def write(target: Path, payload: Payload, group: int | None = None) -> bool:
    """Make ``target`` hold exactly ``payload``, owned by ``group`` when given (the pod's
    fsGroup); False when it already did (no swap)."""
    for path in payload:
        validate_path(path)
    me = os.geteuid()
    payload = {  # as it will be on disk: owners explicit, the group's read bit with a group
        p: FileProjection(
            f.data, f.mode if group is None else f.mode | 0o440, me if f.owner is None else f.owner
        )
        for p, f in payload.items()
    }
    target.mkdir(parents=True, exist_ok=True)
    _own_dir(target, group)
    before = _current(target)
    if before is not None and before == dict(payload):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    os.chmod(new, 0o755)
    _own_dir(new, group)
    for path, proj in payload.items():
        dest = new / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(dest.parent, 0o755)
        _own_dir(dest.parent, group)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(proj.data)
            if group is not None or proj.owner != me:
                os.fchown(
                    f.fileno(),
                    me if proj.owner is None else proj.owner,
                    -1 if group is None else group,
                )
        os.chmod(dest, proj.mode)  # after writing: a 0400 file is still written (umask aside)
    top = {p.split("/", 1)[0] for p in payload}
    for name in top:  # the user-visible links, before the swap (they dangle until then)
        link = target / name
        if not link.is_symlink():
            os.symlink(f"{DATA}/{name}", link)
        if group is not None:
            os.lchown(link, -1, group)
    old = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    tmp = target / DATA_TMP
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(new.name, tmp)
    if group is not None:
        os.lchown(tmp, -1, group)
    os.rename(tmp, target / DATA)  # the swap
    for entry in os.scandir(target):  # names of the old payload only
        if not entry.name.startswith("..") and entry.name not in top and entry.is_symlink():
            os.unlink(entry.path)
    if old is not None and old != new.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
