"""Real tools, real kernel refusals, classified by errno (podnet.dataplane.failures).

Each command runs in a scratch network namespace of its own (``unshare --net``, the
kernel removes it when the command exits), so the host's ruleset is never touched.
"Without CAP_NET_ADMIN" is user nobody with every capability dropped (``setpriv``);
the netns belongs to the initial user namespace, so nobody has no rights over it.
"""

from __future__ import annotations

import errno
import shutil
import threading

import pytest
from support.sandbox import require_kernel

from podnet.dataplane import execs
from podnet.dataplane.nft.session import NftSession
from podnet.dataplane.nft.transaction import ExecNftRunner, Transaction
from podnet.errors import (
    CommandError,
    NftError,
    NftNotFoundError,
    NftPermissionDeniedError,
    NotSupportedError,
    PermissionDeniedError,
)

pytestmark = pytest.mark.kernel

SCRATCH = ("unshare", "--net", "--")
NOBODY = (
    *SCRATCH,
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
)


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_kernel()
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv")


def delete_missing_table() -> Transaction:
    tx = Transaction("inet", "podnet-nonexistent")
    tx.delete_table()
    return tx


def add_table() -> Transaction:
    tx = Transaction("inet", "podnet-failures-test")
    tx.add_table()
    return tx


def test_nft_delete_of_a_missing_table_is_not_found() -> None:
    with pytest.raises(NftNotFoundError) as raised:
        ExecNftRunner(SCRATCH).run(delete_missing_table())
    assert raised.value.errno == errno.ENOENT


def test_nft_without_cap_net_admin_is_permission_denied() -> None:
    with pytest.raises(PermissionDeniedError) as raised:
        ExecNftRunner(NOBODY).run(add_table())
    err = raised.value
    assert err.errno == errno.EPERM
    assert isinstance(err, NftPermissionDeniedError) and isinstance(err, NotSupportedError)


def test_nft_list_without_cap_net_admin_is_permission_denied() -> None:
    """``nft list`` fails earlier, in cache initialisation: same errno, same type."""
    with pytest.raises(PermissionDeniedError) as raised:
        ExecNftRunner(NOBODY).list_table("inet", "podnet-nonexistent")
    assert raised.value.errno == errno.EPERM


def run_in_time(session: NftSession, tx: Transaction, seconds: float = 20.0) -> BaseException:
    """``session.run(tx)``'s error; a session that waits forever for nft's answer is
    a failed test, not a hung suite (its nft, our child, is killed by its pid)."""
    caught: list[BaseException] = []

    def work() -> None:
        try:
            session.run(tx)
        except BaseException as e:  # handed to the test's thread
            caught.append(e)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        session.proc.kill()
        worker.join()
        pytest.fail(f"NftSession.run gave no answer in {seconds}s")
    assert caught, "expected an error"
    return caught[0]


def test_nft_session_classifies_like_the_one_shot_runner() -> None:
    with NftSession(SCRATCH) as session:
        err = run_in_time(session, delete_missing_table())
        assert type(err) is NftNotFoundError and err.errno == errno.ENOENT
        session.run(add_table())  # still usable after an error; success is silence
        tx = Transaction("inet", "podnet-failures-test")
        tx.delete_chain("nochain")
        err = run_in_time(session, tx)
        assert type(err) is NftNotFoundError and err.errno == errno.ENOENT


def test_nft_session_without_cap_net_admin_is_permission_denied() -> None:
    """nft -i without the capability prints no echo for a failed ``list``: the session
    must still find the end of the answer (its marker is a syntax error)."""
    with NftSession(NOBODY) as session:
        err = run_in_time(session, add_table())
        assert isinstance(err, PermissionDeniedError) and isinstance(err, NftError)
        assert err.errno == errno.EPERM
        err = run_in_time(session, delete_missing_table())
        assert isinstance(err, PermissionDeniedError) and err.errno == errno.EPERM


def test_exec_classifies_ip_and_nsenter() -> None:
    """The exec seam: ``ip`` refused for lack of privilege, nsenter on a missing netns."""
    with pytest.raises(PermissionDeniedError) as raised:
        execs.run([*NOBODY, "ip", "link", "add", "pf0", "type", "veth", "peer", "name", "pf1"])
    assert raised.value.errno == errno.EPERM
    with pytest.raises(CommandError) as missing:
        execs.run(["nsenter", "--net=/proc/0/ns/net", "--", "true"])
    assert type(missing.value) is CommandError and missing.value.errno == errno.ENOENT
