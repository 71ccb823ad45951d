"""Container images mapped to real programs on this machine.

podnet pulls nothing: an image reference names a program that is already installed
(Debian's busybox and nginx, podnet's own agnhost and DNS server, python). What an OCI
image contributes to a container is kept: its ENTRYPOINT and CMD (the runtime applies
Kubernetes' command/args rules to them), its ENV (``PATH``), and the files its programs
expect, which :meth:`Image.prepare` writes into a per-container directory. References
are normalised first (:func:`~podnet.dataplane.images.image.normalize`).

Another image can be mapped to a program with :meth:`ImageRegistry.with_mapping` or the
``PODNET_IMAGES`` environment variable (``name=program[,name=program...]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from podnet.dataplane.images.image import Image, normalize
from podnet.errors import ImageError

ENV_VAR = "PODNET_IMAGES"


@dataclass(frozen=True)
class ImageRegistry:
    """Known images by normalised name; immutable, extended with :meth:`with_mapping`."""

    images: Mapping[str, Image]

    def resolve(self, ref: str) -> Image:
        """The image for ``ref``: exact repository path first, then its last component."""
        name = normalize(ref)
        if not name:
            raise ImageError("empty image reference")
        image = self.images.get(name)
        if image is None:
            image = self.images.get(name.rsplit("/", 1)[-1])
        if image is None:
            known = ", ".join(sorted(self.images))
            raise ImageError(
                f"unknown image {ref!r} (normalised {name!r}); known images: {known}. "
                f"Map another image to a program on this machine with "
                f"{ENV_VAR}='{name}=/path/to/program' or ImageRegistry.with_mapping()"
            )
        return image

    def with_mapping(self, name: str, program: str) -> ImageRegistry:
        """A registry where image ``name`` runs ``program`` (its ENTRYPOINT)."""
        key = normalize(name)
        if not key or not program:
            raise ImageError(f"bad image mapping {name!r}={program!r}")
        image = Image(name=key, entrypoint=(program,))
        return replace(self, images={**self.images, key: image})

    def with_env(self, environ: Mapping[str, str]) -> ImageRegistry:
        """Apply ``PODNET_IMAGES=name=program,...`` mappings from ``environ``."""
        reg = self
        spec = environ.get(ENV_VAR, "")
        for item in filter(None, (s.strip() for s in spec.split(","))):
            name, sep, program = item.partition("=")
            if not sep:
                raise ImageError(f"{ENV_VAR}: expected name=program, got {item!r}")
            reg = reg.with_mapping(name, program)
        return reg


def default_registry(state_dir: Path, *, nginx_port: int = 80) -> ImageRegistry:
    """The built-in images, with per-cluster files (busybox applet links) in ``state_dir``.

    ``nginx_port`` exists for tests on the host's loopback, where port 80 may be taken.
    """
    from podnet.dataplane.images.builtin import builtin_images

    state_dir.mkdir(parents=True, exist_ok=True)
    images = builtin_images(state_dir, nginx_port=nginx_port)
    return ImageRegistry(images={i.name: i for i in images}).with_env(os.environ)
