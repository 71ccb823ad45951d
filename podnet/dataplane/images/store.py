"""The image cache shared by every cluster on this machine, content-addressed.

Layout of the cache root (``/var/cache/podnet/images`` as root, else
``$XDG_CACHE_HOME/podnet/images``; ``PODNET_IMAGE_CACHE`` overrides both)::

    lock                      flock(2): held while names change (refs.json) or tmp/ is cleaned
    unpack-<hex16>            flock(2): held while that image is copied and unpacked
    refs.json                 name (docker.io/library/bb:1.0) -> {id, origin, digest}
    images/<hex>/rootfs/      the unpacked image, read-only to its users (overlay lower)
    images/<hex>/config.json  the image config, byte for byte (sha256 of it = <hex>)
    images/<hex>/meta.json    id, size, unpack time
    tmp/<pid>-<n>/            work in progress; renamed into images/ when complete

An image is keyed by its config digest (its ID, as ``docker images`` and ``crictl
images`` show it): the same config names the same layers, hence the same files. The
digest is read first (``skopeo inspect --config --raw``, no layer read), so an image
already unpacked by any cluster costs one small read: a second cluster pays nothing.
A new image is copied and unpacked under ``tmp/`` and appears in ``images/`` by one
rename, and ``refs.json`` is replaced atomically: readers never take the lock and never
see half an image. Work left in ``tmp/`` by a killed process is removed by the next
writer (the pid in its name is gone).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podnet.dataplane.images import tools
from podnet.dataplane.images.image import DEFAULT_PATH, Image, ImagePullError
from podnet.dataplane.images.reference import Reference, parse
from podnet.errors import CommandError, ImageError, PodnetError

ENV_VAR = "PODNET_IMAGE_CACHE"
REMOVED = "removed"  # marker in images/<hex>/: no name left, deleted once nobody holds it
_counter = itertools.count()


def default_root() -> Path:
    """Where this user's clusters share images (see the module docstring)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/podnet/images")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "podnet" / "images"


@dataclass(frozen=True)
class StoredImage:
    """One unpacked image and the names that point at it."""

    id: str  # sha256:<hex> of the config
    names: tuple[str, ...]  # full references, docker.io/library/bb:1.0
    size: int  # bytes of the unpacked files
    path: Path  # images/<hex>
    config: dict[str, Any]
    digests: tuple[str, ...] = ()  # repo@sha256:... of the manifests pulled from registries

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    def image(self, name: str) -> Image:
        """The runtime's view: the config's Entrypoint/Cmd/Env/WorkingDir/User.

        Env starts from the default PATH and the image's entries replace it by name,
        as containerd's CRI builds the spec (oci ``WithEnv`` over the default PATH).
        """
        cfg = self.config.get("config") or {}
        env = {"PATH": DEFAULT_PATH}
        for item in cfg.get("Env") or ():
            key, _, value = str(item).partition("=")
            env[key] = value
        return Image(
            name=name,
            entrypoint=tuple(cfg.get("Entrypoint") or ()),
            cmd=tuple(cfg.get("Cmd") or ()),
            env=tuple(env.items()),
            rootfs=self.rootfs,
            workdir=cfg.get("WorkingDir") or None,
            user=cfg.get("User") or None,
            digest=self.id,
        )


@dataclass(frozen=True)
class Imported:
    image: StoredImage
    unpacked: bool  # False: the cache already had it


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_counter)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


class ImageStore:
    """The cache at ``root``; every method is safe with other processes using it."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()
        self.kept_in_use = False  # the last remove() left files a container holds

    # -- reading (no lock) ---------------------------------------------------------
    def refs(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.root / "refs.json").read_text())
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as e:
            raise ImageError(f"image cache {self.root}: unreadable refs.json ({e})") from None
        return data if isinstance(data, dict) else {}

    def _stored(self, image_id: str, names: Sequence[str]) -> StoredImage | None:
        path = self.root / "images" / image_id.removeprefix("sha256:")
        if (path / REMOVED).exists():
            return None
        try:
            meta = json.loads((path / "meta.json").read_text())
            config = json.loads((path / "config.json").read_bytes())
        except (OSError, json.JSONDecodeError):
            return None
        return StoredImage(image_id, tuple(sorted(names)), int(meta.get("size", 0)), path, config)

    def images(self) -> list[StoredImage]:
        """Every unpacked image with its names (untagged ones too)."""
        by_id: dict[str, list[str]] = {}
        digests: dict[str, set[str]] = {}
        for name, entry in self.refs().items():
            sid = str(entry.get("id"))
            by_id.setdefault(sid, []).append(name)
            if entry.get("digest"):
                with contextlib.suppress(ImageError):
                    digests.setdefault(sid, set()).add(f"{parse(name).name}@{entry['digest']}")
        out: list[StoredImage] = []
        with contextlib.suppress(FileNotFoundError):
            for d in sorted((self.root / "images").iterdir()):
                sid = f"sha256:{d.name}"
                img = self._stored(sid, by_id.get(sid, []))
                if img is not None:
                    out.append(replace(img, digests=tuple(sorted(digests.get(sid, ())))))
        return out

    def entry(self, ref: Reference) -> dict[str, Any] | None:
        """The refs.json entry of ``ref`` (``:latest`` implied; digests matched too)."""
        refs = self.refs()
        if ref.digest is None:
            return refs.get(str(ref.tagged()))
        for name, e in refs.items():
            if ref.digest in (e.get("digest"), e.get("id")) and parse(name).name == ref.name:
                return e
        return None

    def lookup(self, ref: Reference) -> StoredImage | None:
        e = self.entry(ref)
        if e is None:
            return None
        return self._stored(str(e.get("id")), [str(ref.tagged())])

    def find(self, key: str) -> StoredImage | None:
        """By name or by (a prefix of at least 3 characters of) the image ID."""
        with contextlib.suppress(ImageError):
            img = self.lookup(parse(key))
            if img is not None:
                return img
        hexid = key.removeprefix("sha256:")
        if len(hexid) >= 3 and all(c in "0123456789abcdef" for c in hexid):
            hits = [i for i in self.images() if i.id.removeprefix("sha256:").startswith(hexid)]
            if len(hits) > 1:
                raise ImageError(f"image ID prefix {key!r} is ambiguous")
            if hits:
                return hits[0]
        return None

    # -- writing (under the lock) --------------------------------------------------
    @contextlib.contextmanager
    def locked(self, name: str = "lock") -> Iterator[None]:
        """flock(2) on ``name`` in the cache root: ``lock`` guards refs.json and tmp/;
        ``unpack-<hex>`` one image's unpacking, so a slow pull of one image never holds
        up a load of another."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if name == "lock":
                self._clean_tmp()
                self._collect()
            yield
        finally:
            os.close(fd)

    def _collect(self, only: Path | None = None) -> bool:
        """Delete removed images no container holds (:func:`hold`); True if ``only``
        (or every one) went. Called with the cache lock held."""
        done = True
        with contextlib.suppress(FileNotFoundError):
            for d in [only] if only is not None else list((self.root / "images").iterdir()):
                if not (d / REMOVED).exists():
                    continue
                try:
                    fd = os.open(d / "meta.json", os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    fd = -1
                try:
                    if fd >= 0:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    done = False  # a container still uses it
                    continue
                else:
                    trash = self.root / "tmp" / f"{os.getpid()}-{next(_counter)}"
                    trash.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(d, trash)  # gone from images/ at once, deleted after
                    shutil.rmtree(trash, ignore_errors=True)
                finally:
                    if fd >= 0:
                        os.close(fd)
        return done

    def _clean_tmp(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            for d in (self.root / "tmp").iterdir():
                pid = d.name.split("-", 1)[0]
                if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
                    if d.is_dir() and not d.is_symlink():
                        shutil.rmtree(d, ignore_errors=True)
                    else:
                        d.unlink(missing_ok=True)

    def _set_refs(
        self, names: Sequence[str], image_id: str, origin: str, digest: str | None
    ) -> None:
        refs = self.refs()
        for n in names:
            refs[str(parse(n).tagged())] = {"id": image_id, "origin": origin, "digest": digest}
        self.write_refs(refs)

    def write_refs(self, refs: dict[str, dict[str, Any]]) -> None:
        """Replace refs.json atomically (call with the lock held)."""
        data = json.dumps(refs, indent=1, sort_keys=True).encode()
        _write_atomic(self.root / "refs.json", data)

    def import_image(
        self, source: str, names: Sequence[str], *, digest: str | None = None
    ) -> Imported:
        """Make ``source`` (a skopeo source) present under ``names`` (references).

        Cost when any cluster already unpacked it: one config read and a refs update.
        """
        try:
            raw, image_id = tools.inspect_config(source)
            hexid = image_id.removeprefix("sha256:")
            final = self.root / "images" / hexid
            unpacked = False
            if (final / REMOVED).exists():
                with self.locked():  # taken back before the collector may delete it
                    (final / REMOVED).unlink(missing_ok=True)
            if not (final / "meta.json").is_file():
                with self.locked(f"unpack-{hexid[:16]}"):
                    if not (final / "meta.json").is_file():
                        self._unpack(source, raw, image_id, final)
                        unpacked = True
            with self.locked():
                self._set_refs(names, image_id, source, digest)
        except CommandError as e:  # skopeo's or umoci's own words say why
            raise ImageError(f"{source}: {tools.reason(e)}") from e
        stored = self._stored(image_id, [str(parse(n).tagged()) for n in names])
        if stored is None:
            raise ImageError(f"image cache {self.root}: {image_id} vanished after import")
        return Imported(stored, unpacked)

    def _unpack(self, source: str, raw: bytes, image_id: str, final: Path) -> None:
        work = self.root / "tmp" / f"{os.getpid()}-{next(_counter)}"
        work.mkdir(parents=True)
        try:
            tools.copy(source, work / "layout", "img")
            made = work / "image"
            made.mkdir()
            tools.unpack(work / "layout", "img", made / "rootfs", rootless=os.geteuid() != 0)
            (made / "config.json").write_bytes(raw)
            meta = {"id": image_id, "size": _tree_size(made / "rootfs"), "unpacked": time.time()}
            (made / "meta.json").write_text(json.dumps(meta))
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():  # a half image from before the meta.json check: replace
                shutil.rmtree(final)
            os.rename(made, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def pull(self, ref: Reference, *, as_written: str | None = None) -> Imported:
        """Pull ``ref`` from its registry (``docker://``) into the cache.

        Failures are :class:`ImagePullError` 'Failed to pull image "REF": why', kubelet's
        words, with ``as_written`` (the pod's spelling) as REF when given.
        """
        r = ref.tagged()
        source = f"docker://{r}"
        try:
            digest = r.digest or tools.manifest_digest(source)
            return self.import_image(source, [str(r)], digest=digest)
        except PodnetError as e:
            detail = tools.reason(e) if isinstance(e, CommandError) else str(e)
            detail = detail.removeprefix(f"{source}: ")
            what = as_written or r.familiar()
            raise ImagePullError(f'Failed to pull image "{what}": {detail}') from e

    def remove(self, key: str) -> list[str]:
        """Untag ``key`` (a name; an image ID untags all its names); delete unnamed images.

        Returns the names removed (the ID when it had none). The files of an image a
        container still holds (:func:`hold`) stay until it lets go, as containerd keeps
        a removed image's snapshots while a container's lease is on them; they are
        deleted by a later write to the cache; ``kept_in_use`` says so.
        """
        with self.locked():
            refs = self.refs()
            name = None
            with contextlib.suppress(ImageError):
                name = str(parse(key).tagged())
            if name in refs:
                image_id, gone = str(refs[name].get("id")), [name]
            else:
                img = self.find(key)
                if img is None:
                    raise ImageError(f"image {key!r} not found in the image cache {self.root}")
                image_id = img.id
                gone = [n for n, e in refs.items() if e.get("id") == image_id]
            for n in gone:
                del refs[n]
            self.write_refs(refs)
            path = self.root / "images" / image_id.removeprefix("sha256:")
            kept = False
            if path.exists() and not any(e.get("id") == image_id for e in refs.values()):
                (path / REMOVED).touch()
                kept = not self._collect(path)
                gone = gone or [image_id]
            self.kept_in_use = kept
            return gone


def hold(image: Image) -> int:
    """A descriptor holding ``image``'s files for a container: a shared flock(2) on its
    meta.json, which ``podnet image rm`` will not delete under it. Close it when the
    container is gone (the kernel releases it if podnet is killed)."""
    if image.rootfs is None:
        raise ImageError(f"image {image.name!r} is a built-in image: nothing to hold")
    meta = image.rootfs.parent / "meta.json"
    try:
        fd = os.open(meta, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(f"image {image.name!r} was removed from the image cache") from None
    fcntl.flock(fd, fcntl.LOCK_SH)
    if not meta.exists() or (image.rootfs.parent / REMOVED).exists():
        os.close(fd)
        raise ImageError(f"image {image.name!r} was removed from the image cache")
    return fd
