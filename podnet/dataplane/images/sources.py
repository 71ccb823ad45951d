"""What ``podnet image load FILE|DIR`` was given: the images inside and their names.

Three shapes, as ``docker load`` / ``podman load`` accept them:

* an OCI image layout directory (an ``oci-layout`` file and ``index.json``);
* an ``oci-archive`` tarball (the same layout, tarred: ``podman save --format
  oci-archive``);
* a ``docker-archive`` tarball (``docker save``, ``podman save``: ``manifest.json``
  lists each image's ``RepoTags``).

A tarball may be compressed with gzip, bzip2 or xz (``docker load`` accepts all three;
skopeo reads only plain tar, so :func:`plain_tar` decompresses first), or come on stdin
(``-``).

Each image becomes a skopeo source string. Names come from ``RepoTags`` or, in OCI
layouts, from the ``io.containerd.image.name`` annotation (containerd's export), else
the ``org.opencontainers.image.ref.name`` annotation when it is a whole reference rather
than a bare tag (a bare tag names no repository: such an image loads untagged, as
``docker load`` of an untagged image does, unless ``--name`` is given).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import lzma
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podnet.errors import ImageError

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


@dataclass(frozen=True)
class Source:
    """One image to import: a skopeo source and the names it carries."""

    transport: str  # e.g. "docker-archive:/x/img.tar@0"
    names: tuple[str, ...]


_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def _opener(path: Path) -> Any:
    """The decompressor for ``path``'s magic bytes; None for a plain file or a directory."""
    if not path.is_file():
        return None
    with path.open("rb") as f:
        head = f.read(6)
    return next((o for magic, o in _MAGIC.items() if head.startswith(magic)), None)


@contextlib.contextmanager
def plain_tar(path: str, workdir: Path) -> Iterator[Path]:
    """``path`` as a plain file or directory: stdin (``-``) saved and compressed tarballs
    decompressed into a temporary file under ``workdir`` (removed afterwards; named
    after this pid, so the cache removes it if this process is killed)."""
    opener = None if path == "-" else _opener(Path(path))
    if path != "-" and opener is None:
        yield Path(path)
        return
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"{os.getpid()}-load-"
    with tempfile.NamedTemporaryFile(dir=workdir, prefix=prefix, suffix=".tar") as out:
        if opener is None:  # stdin, maybe compressed itself
            shutil.copyfileobj(sys.stdin.buffer, out)
            out.flush()
            with plain_tar(out.name, workdir) as plain:
                yield plain
            return
        with opener(path, "rb") as src:
            shutil.copyfileobj(src, out)
        out.flush()
        yield Path(out.name)


def _oci_entries(index: dict[str, Any], transport: str, where: str) -> list[Source]:
    out: list[Source] = []
    manifests = index.get("manifests") or []
    for m in manifests:
        notes = m.get("annotations") or {}
        ref = notes.get(REF_NAME)
        full = notes.get(CONTAINERD_NAME)
        names: tuple[str, ...] = ()
        if full:
            names = (full,)
        elif ref and ("/" in ref or ":" in ref):
            names = (ref,)
        if ref:
            out.append(Source(f"{transport}:{where}:{ref}", names))
        elif len(manifests) == 1:
            out.append(Source(f"{transport}:{where}", names))
    if not out:
        raise ImageError(f"{where}: no image in the OCI index (no manifest with a ref.name)")
    return out


def sources(path: Path) -> list[Source]:
    """The images in ``path`` (a layout directory or an archive), in file order."""
    where = str(path.resolve())
    if path.is_dir():
        if not (path / "oci-layout").is_file():
            raise ImageError(f"{path}: a directory but not an OCI image layout (no oci-layout)")
        index = json.loads((path / "index.json").read_text())
        return _oci_entries(index, "oci", where)
    if not path.is_file():
        raise ImageError(f"{path}: no such file or directory")
    try:
        with tarfile.open(path) as tar:
            names = set(tar.getnames())
            if "oci-layout" in names or "./oci-layout" in names:
                member = "index.json" if "index.json" in names else "./index.json"
                f = tar.extractfile(member)
                index = json.load(f) if f is not None else {}
                return _oci_entries(index, "oci-archive", where)
            if "manifest.json" in names:
                f = tar.extractfile("manifest.json")
                manifest = json.load(f) if f is not None else []
                return [
                    Source(f"docker-archive:{where}:@{i}", tuple(e.get("RepoTags") or ()))
                    for i, e in enumerate(manifest)
                ]
    except tarfile.ReadError:
        raise ImageError(f"{path}: not an image archive (not a tar file)") from None
    except (tarfile.TarError, json.JSONDecodeError, KeyError) as e:
        raise ImageError(f"{path}: not a readable image archive ({e})") from None
    raise ImageError(
        f"{path}: neither a docker-archive (manifest.json) nor an oci-archive (oci-layout)"
    )
