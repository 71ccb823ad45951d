"""The image config's User as ids, looked up in the image's own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from podnet.dataplane.images.user import (
    Ids,
    container_ids,
    numeric_uid,
    read_in_root,
    resolve_user,
)
from podnet.errors import ImageError

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n# c\n"
GROUP = "root:x:0:\nappgrp:x:1001:\nwheel:x:10:app,other\nvideo:x:44:app\nstaff:x:50:other\n"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


@pytest.mark.parametrize(
    ("user", "ids"),
    [
        (None, Ids(0, 0)),
        ("", Ids(0, 0)),
        ("0", Ids(0, 0)),
        ("app", Ids(1000, 1001, (10, 44))),
        ("1000", Ids(1000, 1001, (10, 44))),
        ("app:wheel", Ids(1000, 10, (44,))),
        ("1000:5", Ids(1000, 5, (10, 44))),
        ("4242", Ids(4242, 0)),  # no entry: gid 0, as containerd
        ("4242:4242", Ids(4242, 4242)),
    ],
)
def test_resolve_user(rootfs: Path, user: str | None, ids: Ids) -> None:
    assert resolve_user(rootfs, user) == ids


@pytest.mark.parametrize("user", ["nobody", "app:nogroup"])
def test_unknown_names_are_errors(rootfs: Path, user: str) -> None:
    with pytest.raises(ImageError):
        resolve_user(rootfs, user)


@pytest.mark.parametrize(("user", "uid"), [(None, 0), ("1000:1", 1000), ("app", None)])
def test_numeric_uid(user: str | None, uid: int | None) -> None:
    assert numeric_uid(user) == uid


def test_symlinks_stay_inside_the_image(tmp_path: Path, rootfs: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("evil:x:0:0::/:/bin/sh\n")
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").symlink_to(secret)  # absolute: read inside the root
    assert read_in_root(rootfs, "etc/passwd") is None
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").symlink_to("../../../secret")  # .. stops at the root
    assert read_in_root(rootfs, "etc/passwd") is None
    (rootfs / "real").write_text(PASSWD)
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").symlink_to("/real")
    assert read_in_root(rootfs, "etc/passwd") == PASSWD
    (rootfs / "loop").symlink_to("loop")
    assert read_in_root(rootfs, "loop") is None


@pytest.mark.parametrize(
    ("image_user", "run_as_user", "run_as_group", "ids"),
    [
        ("app", None, None, Ids(1000, 1001, (10, 44))),
        ("app:wheel", None, None, Ids(1000, 10, (44,))),
        ("app", 0, None, Ids(0, 0)),  # runAsUser wins; its own primary group
        ("app", 1000, 5, Ids(1000, 5, (10, 44))),
        ("app", None, 7, Ids(1000, 7, (10, 44))),  # image user, pod group
        (None, None, None, Ids(0, 0)),
        (None, 4242, None, Ids(4242, 0)),
    ],
)
def test_container_ids(
    rootfs: Path,
    image_user: str | None,
    run_as_user: int | None,
    run_as_group: int | None,
    ids: Ids,
) -> None:
    assert container_ids(rootfs, image_user, run_as_user, run_as_group) == ids
