"""Image references resolved: the shared image cache first, then the built-in images.

An image loaded (``podnet image load``) or pulled into the cache (:mod:`.store`) is a
real OCI image: an unpacked root filesystem and its config. When the cache has no image
of that name, the built-in images map well-known names to programs already installed
(Debian's busybox and nginx, podnet's own agnhost and DNS server, python). What an OCI
image contributes to a container is kept: its ENTRYPOINT and CMD (the runtime applies
Kubernetes' command/args rules to them), its ENV (``PATH``), and the files its programs
expect, which :meth:`Image.prepare` writes into a per-container directory. References
are normalised first (:func:`~podnet.dataplane.images.image.normalize`).

Another image can be mapped to a program with :meth:`ImageRegistry.with_mapping` or the
``PODNET_IMAGES`` environment variable (``name=program[,name=program...]``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from podnet.dataplane.images.image import (
    Image,
    ImageNotPresentError,
    ImagePullBackOffError,
    ImagePullError,
    InvalidImageNameError,
    normalize,
)
from podnet.dataplane.images.reference import (
    PULL_POLICIES,
    Reference,
    default_pull_policy,
    did_you_mean,
    parse,
)
from podnet.dataplane.images.store import ImageStore
from podnet.errors import ImageError, PodnetError

ENV_VAR = "PODNET_IMAGES"
PULL_WINDOW = 10.0  # seconds
BACKOFF_INITIAL, BACKOFF_MAX = 10.0, 300.0


@dataclass(frozen=True)
class ImageRegistry:
    """Known images: the shared cache (:attr:`store`) first, then the built-ins by
    normalised name; immutable, extended with :meth:`with_mapping`."""

    images: Mapping[str, Image]
    store: ImageStore | None = None
    # ref -> monotonic time of its last pull: `Always` pulls at most once per window
    # (podnet resolves an image at admission and again at start; the kubelet pulls once)
    _pulled: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    # ref -> (no pull before this monotonic time, the current back-off period)
    _backoff: dict[str, tuple[float, float]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def resolve(self, ref: str, pull_policy: str | None = None) -> Image:
        """The image for ``ref`` under ``pull_policy`` (default: Kubernetes' for ``ref``).

        1. an image loaded or pulled into the cache under this exact name (``:latest``
           implied); with ``Always``, one pulled from a registry is pulled again first;
        2. a built-in image: exact repository path first, then its last component;
        3. unless the policy is ``Never``, a pull from the reference's registry.
        Failures: :class:`ImageNotPresentError` (``ErrImageNeverPull``),
        :class:`ImagePullError` (``ErrImagePull``), both naming the image.
        """
        name = normalize(ref)
        if not name:
            raise InvalidImageNameError("empty image reference")
        policy = pull_policy or default_pull_policy(ref)
        if policy not in PULL_POLICIES:
            raise ImageError(
                f"image {ref!r}: imagePullPolicy {policy!r} is not one of {PULL_POLICIES}"
            )
        parsed: Reference | None = None
        with contextlib.suppress(ImageError):
            parsed = parse(ref)
        if self.store is not None and parsed is not None:
            entry = self.store.entry(parsed)
            origin = str((entry or {}).get("origin", ""))
            if entry is not None and policy == "Always" and origin.startswith("docker://"):
                self._pull(ref, name, parsed)
            stored = self.store.lookup(parsed)
            if stored is not None:
                return stored.image(parsed.tagged().familiar())
        image = self.images.get(name) or self.images.get(name.rsplit("/", 1)[-1])
        if image is not None:
            return image
        if policy == "Never" or self.store is None or parsed is None:
            why = f'Container image "{ref}" is not present with pull policy of Never'
            cls: type[ImageError] = ImageNotPresentError if policy == "Never" else ImageError
            raise cls(self._unknown(ref, name, why if policy == "Never" else ""))
        return self._pull(ref, name, parsed)

    def _pull(self, ref: str, name: str, parsed: Reference) -> Image:
        """Pull once per :data:`PULL_WINDOW`; after a failure, back off as kubelet does.

        kubelet's image manager (pkg/kubelet/images/image_manager.go) keeps a back-off
        per image: while it lasts a pull is not tried and the error is
        ``ImagePullBackOff`` ("Back-off pulling image"); each failure doubles it from
        10 s up to 300 s (kubelet.go ``backOffPeriod``, ``MaxContainerBackOff``).
        """
        assert self.store is not None
        key = str(parsed.tagged())
        now = time.monotonic()
        last = self._pulled.get(key)
        if last is None or now - last > PULL_WINDOW:
            until, period = self._backoff.get(key, (0.0, 0.0))
            if now < until:
                why = f'Back-off pulling image "{ref}"'
                raise ImagePullBackOffError(self._unknown(ref, name, why))
            try:
                self.store.pull(parsed, as_written=ref)
            except PodnetError as e:
                period = min(max(2 * period, BACKOFF_INITIAL), BACKOFF_MAX)
                self._backoff[key] = (time.monotonic() + period, period)
                raise ImagePullError(self._unknown(ref, name, str(e))) from None
            self._backoff.pop(key, None)
            self._pulled[key] = time.monotonic()
        stored = self.store.lookup(parsed)
        if stored is None:
            raise ImagePullError(self._unknown(ref, name, f"{key} pulled but not in the cache"))
        return stored.image(parsed.tagged().familiar())

    def known(self) -> list[str]:
        """Every name an image resolves by: built-ins and the cache's repositories."""
        names = set(self.images)
        if self.store is not None:
            for n in self.store.refs():
                with contextlib.suppress(ImageError):
                    names.add(parse(n).familiar_name)
        return sorted(names)

    def _unknown(self, ref: str, name: str, why: str) -> str:
        known = self.known()
        hint = did_you_mean(name, known)
        where = f"the image cache ({self.store.root})" if self.store is not None else ""
        head = f"unknown image {ref!r} (normalised {name!r})"
        parts = [f"{head}: did you mean {hint}?" if hint else head]
        if why:
            parts.append(why)
        parts.append(f"known images: {', '.join(known)}")
        tail = f"Load it into {where} with `podnet image load FILE|DIR` or " if where else ""
        parts.append(
            f"{tail}map another image to a program on this machine with "
            f"{ENV_VAR}='{name}=/path/to/program' or ImageRegistry.with_mapping()"
        )
        return "; ".join(parts)

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


def default_registry(
    state_dir: Path, *, nginx_port: int = 80, store: ImageStore | None = None
) -> ImageRegistry:
    """The shared image cache (``store``, default :func:`store.default_root`) and the
    built-in images, with per-cluster files (busybox applet links) in ``state_dir``.

    ``nginx_port`` exists for tests on the host's loopback, where port 80 may be taken.
    """
    from podnet.dataplane.images.builtin import builtin_images

    state_dir.mkdir(parents=True, exist_ok=True)
    images = builtin_images(state_dir, nginx_port=nginx_port)
    reg = ImageRegistry(images={i.name: i for i in images}, store=store or ImageStore())
    return reg.with_env(os.environ)
