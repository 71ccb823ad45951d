"""Image references parsed as a container runtime parses them, and pull policy defaults.

:func:`parse` follows distribution/reference ``ParseNormalizedNamed`` (``normalize.go``,
``splitDockerDomain``): the first path component is a registry host only when it holds a
``.`` or ``:``, is ``localhost``, or has upper-case letters; otherwise the host is
``docker.io``, where one-component names gain ``library/``. ``index.docker.io`` is
``docker.io``. Repository names must be lower case. A reference with neither tag nor
digest means ``:latest`` (``TagNameOnly``) when it is stored or pulled.

:func:`default_pull_policy` is ``SetDefaults_Container`` (kubernetes
pkg/apis/core/v1/defaults.go): ``Always`` when the tag is ``latest`` (which a reference
with neither tag nor digest has, pkg/util/parsers ``ParseImageName``), else
``IfNotPresent``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from podnet.dataplane.images.image import InvalidImageNameError
from podnet.errors import ImageError

DEFAULT_DOMAIN = "docker.io"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

# distribution/reference regexp.go
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.?)+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")


@dataclass(frozen=True)
class Reference:
    """A normalised image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository with its registry: ``docker.io/library/nginx``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as people write it: ``nginx``, ``quay.io/x/y`` (FamiliarName)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith("library/") and path.count("/") == 1:
            path = path[len("library/") :]
        return path

    def tagged(self) -> Reference:
        """With ``:latest`` when neither tag nor digest is given (TagNameOnly)."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, "latest")
        return self

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.name}{tag}{digest}"

    def familiar(self) -> str:
        """``nginx:1.25``, ``localhost:5000/bb:1``: the short form for messages and tables."""
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.familiar_name}{tag}{digest}"


def parse(ref: str) -> Reference:
    """Parse and normalise ``ref``; :class:`InvalidImageNameError` when malformed."""
    text = ref.strip()
    if not text:
        raise InvalidImageNameError("empty image reference")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidImageNameError(f"invalid image reference {ref!r}: bad digest {digest!r}")
    i = name.find("/")
    first = name[:i] if i >= 0 else ""
    if i >= 0 and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, rest = first, name[i + 1 :]
        if not _DOMAIN.fullmatch(domain):
            raise InvalidImageNameError(f"invalid image reference {ref!r}: bad registry {domain!r}")
    else:
        domain, rest = DEFAULT_DOMAIN, name
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    tag: str | None = None
    colon = rest.rfind(":")
    if colon >= 0 and "/" not in rest[colon:]:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidImageNameError(f"invalid image reference {ref!r}: bad tag {tag!r}")
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = f"library/{rest}"
    for comp in rest.split("/"):
        if not _COMPONENT.fullmatch(comp):
            why = "must be lowercase" if comp.lower() != comp else f"bad component {comp!r}"
            raise InvalidImageNameError(f"invalid image reference {ref!r}: repository name {why}")
    return Reference(domain, rest, tag, digest or None)


def default_pull_policy(ref: str) -> str:
    """Kubernetes' default ``imagePullPolicy`` for ``ref`` (defaults.go)."""
    try:
        r = parse(ref)
    except ImageError:
        return "IfNotPresent"  # the API server rejects it before a default matters
    tag = r.tag if r.tag is not None else ("" if r.digest else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The closest known image name to ``name`` (difflib), for "did you mean nginx?"."""
    names = sorted(set(known))
    short = name.rsplit("/", 1)[-1]
    for candidate in (name, short):
        match = difflib.get_close_matches(candidate, names, n=1, cutoff=0.6)
        if match and match[0] != name:
            return match[0]
    return None
