"""The one place a failed command or netlink call becomes a typed error with its errno.

knftables ``error.go`` wraps every nft failure once with an errno and its callers ask
``IsNotFound(err)``; pyroute2 raises ``NetlinkError`` with ``.code``. Here likewise: the
errno is known (netlink acks) or read once from stderr, and the error's type follows
from it, so callers test types and ``.errno``, never message text.

The tools print strerror(3) text and nothing machine-readable (nft 1.0.6: ``Error:
Could not process rule: No such file or directory``; iproute2: ``RTNETLINK answers:
Operation not permitted``), so the reverse map is built from :func:`os.strerror` over
every errno Python knows. iproute2 with extended acks prints the kernel's reason
instead (``Error: ipv4: Address already assigned.``): no errno then, ``errno`` is None.
"""

from __future__ import annotations

import errno as errnos
import os
import re

from podnet.errors import (
    CommandError,
    NftBusyError,
    NftError,
    NftExistsError,
    NftInvalidError,
    NftNotFoundError,
    NftPermissionDeniedError,
    PermissionDeniedError,
)

_PERMISSION = frozenset({errnos.EPERM, errnos.EACCES})
_NFT_TYPES: dict[int, type[NftError]] = {
    errnos.ENOENT: NftNotFoundError,
    errnos.EEXIST: NftExistsError,
    errnos.EBUSY: NftBusyError,
}
_BY_TEXT = {os.strerror(code): code for code in errnos.errorcode}
# longest first: "No such device or address" (ENXIO) before "No such device" (ENODEV)
_STRERROR = re.compile(
    r"(?<![A-Za-z])("
    + "|".join(re.escape(t) for t in sorted(_BY_TEXT, key=len, reverse=True))
    + r")(?![A-Za-z])"
)


def errno_in(stderr: str) -> int | None:
    """The errno whose strerror text comes first in ``stderr``; None if there is none."""
    m = _STRERROR.search(stderr)
    return None if m is None else _BY_TEXT[m.group(1)]


def command_error(
    argv: list[str], returncode: int, stderr: str, *, errno: int | None = None
) -> CommandError:
    """The error of a failed command (``ip``, ``nsenter``, ...) or netlink request.

    ``errno`` is the kernel's code where the caller has it (a netlink ack); otherwise it
    is read from ``stderr``. EPERM/EACCES give :class:`PermissionDeniedError`, which is
    also a :class:`~podnet.errors.NotSupportedError`: no retry or other input fixes it.
    """
    code = errno_in(stderr) if errno is None else errno
    if code in _PERMISSION:
        return PermissionDeniedError(argv, returncode, stderr, errno=code)
    return CommandError(argv, returncode, stderr, errno=code)


def nft_error(
    argv: list[str], returncode: int, stderr: str, *, errno: int | None = None
) -> NftError:
    """The error of a failed ``nft`` run: ENOENT/EEXIST/EBUSY/EPERM/EACCES by type.

    No errno means nft's own parser or evaluator refused the input before the kernel saw
    it (``Error: syntax error, ...``): :class:`NftInvalidError`, podnet built bad input.
    Any other errno is a plain :class:`NftError` whose ``errno`` says why.
    """
    code = errno_in(stderr) if errno is None else errno
    if code is None:
        return NftInvalidError(argv, returncode, stderr)
    if code in _PERMISSION:
        return NftPermissionDeniedError(argv, returncode, stderr, errno=code)
    return _NFT_TYPES.get(code, NftError)(argv, returncode, stderr, errno=code)
