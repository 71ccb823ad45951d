"""The one classifier: stderr or a netlink code -> errno -> error type.

The stderr lines are what the tools print (nft 1.0.6, iproute2 6.1, util-linux
nsenter/setpriv), copied from real runs; the kernel tier runs the tools themselves
(tests/kernel/dataplane/test_failures_kernel.py).
"""

from __future__ import annotations

import errno
import os

import pytest

from podnet.dataplane.failures import command_error, errno_in, nft_error
from podnet.errors import (
    CommandError,
    NftBusyError,
    NftError,
    NftExistsError,
    NftInvalidError,
    NftNotFoundError,
    NftPermissionDeniedError,
    NotSupportedError,
    PermissionDeniedError,
)

NFT = ["nft", "-f", "-"]
IP = ["ip", "-batch", "-"]


@pytest.mark.parametrize(
    ("stderr", "code"),
    [
        (
            "Error: Could not process rule: No such file or directory\n"
            "delete table inet podnet-nonexistent\n                  ^^^^^^^^^^^^^^^^^^\n",
            errno.ENOENT,
        ),
        ("Error: Could not process rule: File exists\n", errno.EEXIST),
        ("Error: Could not process rule: Device or resource busy\n", errno.EBUSY),
        ("Error: Could not process rule: Operation not permitted\n", errno.EPERM),
        (
            "Operation not permitted (you must be root)\n"
            "netlink: Error: cache initialization failed: Operation not permitted\n",
            errno.EPERM,
        ),
        ("RTNETLINK answers: File exists\nCommand failed -:3\n", errno.EEXIST),
        ("RTNETLINK answers: Operation not permitted\n", errno.EPERM),
        ("nsenter: cannot open /proc/1/ns/net: Permission denied\n", errno.EACCES),
        ("Error: Could not process rule: Invalid argument\n", errno.EINVAL),
        # longest text first: ENXIO's text begins with ENODEV's
        ("RTNETLINK answers: No such device or address\n", errno.ENXIO),
        ("RTNETLINK answers: No such device\n", errno.ENODEV),
        # the first errno named is the one that counts
        ("Error: File exists\nError: No such file or directory\n", errno.EEXIST),
        # no errno: nft's parser, iproute2's extended-ack text, a lookup in ip itself
        ("Error: syntax error, unexpected newline\nadd rule ip t c ip daddr\n", None),
        ("Error: ipv4: Address already assigned.\n", None),
        ('Cannot find device "nope"\n', None),
        ("", None),
        # strerror text inside a longer word is not it
        ("Error: xFile existsy\n", None),
    ],
)
def test_errno_in_reads_strerror_text(stderr: str, code: int | None) -> None:
    assert errno_in(stderr) == code


def test_every_errno_reads_back_from_its_strerror() -> None:
    """The reverse map is os.strerror over errno.errorcode, so it covers them all."""
    for code in errno.errorcode:
        assert errno_in(f"RTNETLINK answers: {os.strerror(code)}\n") == code, code


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (errno.EPERM, PermissionDeniedError),
        (errno.EACCES, PermissionDeniedError),
        (errno.ENOENT, CommandError),
        (errno.EEXIST, CommandError),
        (errno.EBUSY, CommandError),
        (errno.EINVAL, CommandError),
        (None, CommandError),
    ],
)
def test_command_error_type_follows_the_errno(code: int | None, cls: type[CommandError]) -> None:
    stderr = f"RTNETLINK answers: {os.strerror(code)}\n" if code else "Cannot find device\n"
    err = command_error(IP, 2, stderr)
    assert type(err) is cls and err.errno == code
    assert (err.argv, err.returncode, err.stderr) == (IP, 2, stderr)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (errno.EPERM, NftPermissionDeniedError),
        (errno.EACCES, NftPermissionDeniedError),
        (errno.ENOENT, NftNotFoundError),
        (errno.EEXIST, NftExistsError),
        (errno.EBUSY, NftBusyError),
        (errno.EINVAL, NftError),
        (errno.EOPNOTSUPP, NftError),
        (None, NftInvalidError),
    ],
)
def test_nft_error_type_follows_the_errno(code: int | None, cls: type[NftError]) -> None:
    stderr = (
        f"Error: Could not process rule: {os.strerror(code)}\n"
        if code
        else "Error: syntax error, unexpected newline\n"
    )
    err = nft_error(NFT, 1, stderr)
    assert type(err) is cls and err.errno == code
    # the errno given (a netlink ack, the fake) wins over the text: it is not read
    given = nft_error(NFT, 1, "Error: whatever\n", errno=code)
    assert type(given) is cls and given.errno == code


def test_permission_denied_is_also_not_supported_and_an_nft_error() -> None:
    """EPERM from nft is not a podnet bug: the CLI's NotSupportedError, and still an
    NftError for the syncers' ``except NftError`` fallbacks."""
    err = nft_error(NFT, 1, "Error: Could not process rule: Operation not permitted\n")
    assert isinstance(err, PermissionDeniedError)
    assert isinstance(err, NotSupportedError)
    assert isinstance(err, NftError)
    assert not isinstance(err, NftInvalidError)


def test_a_netlink_code_is_used_as_is() -> None:
    """rtnl hands over NetlinkError.code; the text (an ext-ack message) is not read."""
    err = command_error(["rtnetlink", "address", "add"], 17, "whatever", errno=errno.EACCES)
    assert type(err) is PermissionDeniedError and err.errno == errno.EACCES


def test_a_failure_without_errno_keeps_its_message() -> None:
    err = command_error(["ip", "link", "del", "nope"], 1, 'Cannot find device "nope"\n')
    assert type(err) is CommandError and err.errno is None
    assert str(err) == 'ip link del nope exited 1: Cannot find device "nope"'
