"""An image as the runtime sees it, and image references normalised as a runtime does.

Image references lose the registry host (a first component with a ``.`` or ``:``, or
``localhost``), the ``library/`` prefix, the tag and the digest before the lookup, so
``docker.io/library/nginx:1.25``, ``nginx`` and ``nginx@sha256:...`` name the same image
(distribution/reference ``normalize.go``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from podnet.errors import ImageError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageNotPresentError(ImageError):
    """Not in the cache nor built in, and the pull policy is ``Never``."""

    # kubelet pkg/kubelet/images/types.go: the container's waiting reason
    reason = "ErrImageNeverPull"


class ImagePullError(ImageError):
    """Not in the cache nor built in, and pulling it failed (or no registry has it)."""

    reason = "ErrImagePull"


class ImagePullBackOffError(ImagePullError):
    """A pull of this image failed recently: not tried again until the back-off ends."""

    reason = "ImagePullBackOff"


class InvalidImageNameError(ImageError):
    """A reference no runtime would accept."""

    reason = "InvalidImageName"


@dataclass(frozen=True)
class PrepareContext:
    """What an image's per-container setup may use: a private writable directory."""

    pod_key: str
    container: str
    state_dir: Path  # exists, private to this container


# Per-container setup: returns (argv after program mapping, extra env).
Prepare = Callable[[PrepareContext, list[str]], tuple[list[str], dict[str, str]]]


@dataclass(frozen=True)
class Image:
    """An image as the runtime sees it.

    ``programs`` maps a path or name inside the image (``/agnhost``, ``nginx``) to the
    host argv that runs it; anything else is looked up on the container's ``PATH``.
    ``prepare`` (optional) rewrites the final argv and adds env for one container, e.g.
    nginx's generated config.

    A real OCI image (loaded or pulled into the cache, :mod:`.store`) also has
    ``rootfs``: its unpacked root directory, shared by every cluster and container and
    so used read-only (the lower layer of a per-container overlay); ``workdir`` and
    ``user`` are the image config's ``WorkingDir`` and ``User`` (``"1000"``,
    ``"nobody:nogroup"``, or empty); ``digest`` is the image's config digest (its ID,
    ``sha256:...``). ``entrypoint``, ``cmd`` and ``env`` then carry the config's
    ``Entrypoint``, ``Cmd`` and ``Env``. Built-in images leave these ``None``.
    """

    name: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = (("PATH", DEFAULT_PATH),)
    programs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    prepare: Prepare | None = field(default=None, compare=False)
    rootfs: Path | None = None
    workdir: str | None = None
    user: str | None = None
    digest: str | None = None

    def program(self, argv0: str) -> tuple[str, ...] | None:
        """The host argv for ``argv0`` when the image provides it, else ``None``."""
        table = dict(self.programs)
        if argv0 in table:
            return table[argv0]
        base = argv0.rsplit("/", 1)[-1]
        if "/" in argv0 and base in table:
            return table[base]
        return None


def normalize(ref: str) -> str:
    """The repository path of an image reference, without registry, tag or digest."""
    name = ref.strip().split("@", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    last = parts[-1].split(":", 1)[0]
    parts[-1] = last
    if parts[0] == "library" and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts).lower()
