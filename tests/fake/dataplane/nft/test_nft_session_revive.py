""":class:`NftSession` over a stand-in ``nft -i`` (no kernel): a killed process is
replaced, the next transaction goes through, and the restart is reported once.

The stand-in speaks the part of nft -i the session relies on: silence on success, and
for the marker line an ``Error:`` line, the echoed line and a caret line on stderr.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from podnet.dataplane.nft.session import _MARKER, NftSession
from podnet.dataplane.nft.transaction import Transaction
from podnet.errors import NftError

STAND_IN = f"""\
import sys
log = open(sys.argv[1], "a")
for line in sys.stdin:
    line = line.rstrip("\\n")
    if "podnet-die" in line:  # dies under this transaction, as a killed nft would
        sys.exit(3)
    if line == {_MARKER!r}:
        sys.stderr.write("Error: syntax error\\n" + line + "\\n^^^^\\n")
        sys.stderr.flush()
    else:
        log.write(line + "\\n")
        log.flush()
"""


def _session(tmp_path: Path) -> tuple[NftSession, Path]:
    script = tmp_path / "nft.py"
    script.write_text(STAND_IN)
    applied = tmp_path / "applied.log"
    # prefix + "nft" + "-i": the stand-in gets the log path as argv[1], then "-i"
    return NftSession((sys.executable, str(script), str(applied)), nft="-i"), applied


def _tx() -> Transaction:
    tx = Transaction("ip", "podnet-test")
    tx.add_table()
    return tx


def test_a_killed_session_is_replaced_and_reported_once(tmp_path: Path) -> None:
    session, applied = _session(tmp_path)
    with session:
        session.run(_tx())
        assert session.revive() is None  # alive: nothing to report
        old = session.proc.pid
        os.kill(old, signal.SIGKILL)
        session.proc.wait()
        session.run(_tx())  # not an error: a new nft -i takes it
        assert session.proc.pid != old and session.restarts == 1
        report = session.revive()
        assert report is not None and f"pid {old}" in report and "signal 9" in report
        assert session.revive() is None
        assert applied.read_text().count("add table") == 2


def test_a_death_under_a_transaction_raises_and_leaves_a_live_session(tmp_path: Path) -> None:
    session, applied = _session(tmp_path)
    with session:
        old = session.proc.pid
        dying = Transaction("ip", "podnet-die")
        dying.add_table()
        with pytest.raises(NftError, match="exited"):
            session.run(dying)  # the caller's TableSyncer falls back to a full sync
        assert session.proc.poll() is None and session.proc.pid != old
        session.run(_tx())
        report = session.revive()
        assert report is not None and "exited 3" in report
        assert applied.read_text().count("add table ip podnet-test") == 1
