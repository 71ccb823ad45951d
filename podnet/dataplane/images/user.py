"""The image config's ``User`` turned into ids, as containerd's CRI does for a container.

``User`` is ``user[:group]``, each a number or a name (OCI image spec, config
``User``). containerd ``oci.WithUser`` resolves names in the image's own ``/etc/passwd``
and ``/etc/group`` (never the host's); with no group given the gid is the user's
primary group from ``/etc/passwd`` (0 when the uid has no entry), and the user's
supplementary groups from ``/etc/group`` are added (``WithAdditionalGIDs``). kubelet's
``runAsNonRoot`` check needs the uid without the image's files (``verifyRunAsNonRoot``:
a non-numeric user "cannot verify user is non-root"): :func:`numeric_uid`.

The image's files are read inside its root: a symlink is followed as it would be in
the container (absolute targets from the image root, ``..`` stopping there), so an image
cannot make podnet read a host file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from podnet.errors import ImageError

_MAX_LINKS = 40


@dataclass(frozen=True)
class Ids:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


def numeric_uid(user: str | None) -> int | None:
    """The uid when ``User`` gives it as a number ("" or None: root, 0); else None."""
    name = (user or "").split(":", 1)[0]
    if not name:
        return 0
    return int(name) if name.isdigit() else None


def read_in_root(root: Path, rel: str) -> str | None:
    """The text of ``rel`` (e.g. ``etc/passwd``) inside ``root``, symlinks followed as
    in a chroot; None when it does not exist."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        path = root.joinpath(*resolved, part)
        if path.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                return None
            target = os.readlink(path)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    path = root.joinpath(*resolved)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
        return f.read()


def _table(root: Path, rel: str) -> list[list[str]]:
    text = read_in_root(root, rel) or ""
    return [ln.split(":") for ln in text.splitlines() if ln and not ln.startswith("#")]


def resolve_user(rootfs: Path, user: str | None) -> Ids:
    """``User`` of the image at ``rootfs`` as uid, gid and supplementary gids."""
    spec = (user or "").strip()
    name, _, group = spec.partition(":")
    passwd = _table(rootfs, "etc/passwd")
    entry: list[str] | None = None
    if not name:
        uid = 0
    elif name.isdigit():
        uid = int(name)
    else:
        entry = next((e for e in passwd if len(e) >= 4 and e[0] == name), None)
        if entry is None or not entry[2].isdigit():
            raise ImageError(f"image user {name!r}: no such user in the image's /etc/passwd")
        uid = int(entry[2])
    if entry is None:
        entry = next((e for e in passwd if len(e) >= 4 and e[2] == str(uid)), None)
    groups = _table(rootfs, "etc/group")
    if not group:
        gid = int(entry[3]) if entry is not None and entry[3].isdigit() else 0
    elif group.isdigit():
        gid = int(group)
    else:
        g = next((e for e in groups if len(e) >= 3 and e[0] == group), None)
        if g is None or not g[2].isdigit():
            raise ImageError(f"image group {group!r}: no such group in the image's /etc/group")
        gid = int(g[2])
    member = entry[0] if entry is not None else None
    extra = tuple(
        sorted(
            {
                int(e[2])
                for e in groups
                if len(e) >= 4 and member and member in e[3].split(",") and e[2].isdigit()
            }
            - {gid}
        )
    )
    return Ids(uid, gid, extra)


def container_ids(
    rootfs: Path,
    image_user: str | None,
    run_as_user: int | None = None,
    run_as_group: int | None = None,
) -> Ids:
    """A container's ids: ``securityContext`` over the image's ``User``.

    kubelet fills RunAsUser (or RunAsUsername) from the image's user when the pod sets
    none (kuberuntime_container_linux.go ``generateLinuxContainerConfig``); containerd's
    CRI then builds ``user[:group]`` (``generateUserString``) and resolves it in the
    image (``oci.WithUser``), adding the user's groups (``WithAdditionalGIDs``).
    """
    user = (image_user or "").partition(":")
    name = str(run_as_user) if run_as_user is not None else (user[0] or "0")
    if run_as_group is not None:
        group = str(run_as_group)
    elif run_as_user is not None:
        group = ""  # the uid's primary group in the image, as WithUserID
    else:
        group = user[2]
    return resolve_user(rootfs, f"{name}:{group}" if group else name)
