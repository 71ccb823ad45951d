"""The one error hierarchy of podnet.

Callers test error *types*, never message text (STYLE.md principle 3). Anything a user
can cause with bad input is a :class:`PodnetError`; the CLI prints those as one clean
message and exits non-zero, never with a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PodnetError(Exception):
    """Base class of every error podnet reports to a user."""


@dataclass(frozen=True)
class Location:
    """Where in the input something came from: file and 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class ManifestError(PodnetError):
    """A manifest is malformed or invalid.

    Carries the location, the object (``Kind/namespace/name``), the field path
    (``spec.ports[0].port``) and what was expected, so the message can be read alone.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        obj: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.location = location
        self.obj = obj
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.obj:
            parts.append(self.obj)
        if self.field:
            parts.append(self.field)
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class ClusterError(PodnetError):
    """The objects are each valid but do not fit together (IP conflicts, exhaustion)."""


class AllocationError(ClusterError, ManifestError):
    """A Service asks for an address or port that is taken or outside its range.

    A :class:`ClusterError` (it is about how objects fit together) that reads like a
    :class:`ManifestError`: the user's file:line, object and field, and what the API
    server's allocator would say (pkg/registry/core/service/ipallocator, portallocator).
    """


class CommandError(PodnetError):
    """An external command (ip, nft, ...) or a netlink request failed.

    Carries argv, exit status, stderr and the kernel's ``errno`` (None when the failure
    has none, e.g. an nft syntax error or a timeout). Built by
    :mod:`podnet.dataplane.failures`, which picks the subclass from the errno.
    """

    def __init__(
        self, argv: list[str], returncode: int, stderr: str, *, errno: int | None = None
    ) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        self.errno = errno
        super().__init__(f"{' '.join(argv)} exited {returncode}: {stderr.strip()}")


class NotSupportedError(PodnetError):
    """The machine cannot do what was asked (no root, no nftables, no SCTP, ...)."""


class ManifestErrors(ManifestError):
    """Several manifest errors at once; ``errors`` holds each, attributes are the first's."""

    def __init__(self, errors: Sequence[ManifestError]) -> None:
        first = errors[0]
        rest = "\n".join(f"  {e}" for e in errors[1:])
        message = f"{first.message}\n({len(errors) - 1} more error(s)):\n{rest}"
        super().__init__(message, location=first.location, obj=first.obj, field=first.field)
        self.errors = tuple(errors)


class TargetError(PodnetError):
    """FROM/TO names nothing, or the port is ambiguous: the user must say more."""


class PermissionDeniedError(CommandError, NotSupportedError):
    """The kernel refused the command for lack of privilege (EPERM/EACCES)."""


class NftError(CommandError):
    """``nft`` rejected a transaction; nothing of it was applied."""


class NftNotFoundError(NftError):
    """A referenced table, chain, set, map or element does not exist (ENOENT)."""


class NftExistsError(NftError):
    """An element with that key already exists with other data (EEXIST)."""


class NftBusyError(NftError):
    """The object is still referenced (EBUSY), e.g. a chain that a map jumps to."""


class NftInvalidError(NftError):
    """nft could not parse or type-check the input (a podnet bug, never user input)."""


class NftPermissionDeniedError(NftError, PermissionDeniedError):
    """nft was refused for lack of CAP_NET_ADMIN (EPERM/EACCES): not a podnet bug.

    Both an :class:`NftError` (what an nft runner raises, and what the syncers' fallbacks
    catch) and a :class:`PermissionDeniedError` (a :class:`NotSupportedError` to the CLI).
    """


class PolicyCompileError(PodnetError):
    """The policy compiler was asked for something it cannot do (an unknown deny mode)."""


class ImageError(PodnetError):
    """An image podnet cannot run (unknown name, bad mapping, program missing)."""


class PodRuntimeError(PodnetError):
    """A pod cannot be started or found (duplicate start, unknown pod or container)."""


class RecordsError(PodnetError):
    """The DNS records file is missing or malformed."""
