"""SQLiteStore: what must survive a restart and a SIGKILL (issue 9: "killed with
SIGKILL and started again with the same data dir loses no acknowledged write")."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from podnet.apiserver.store import DB_NAME, open_store
from podnet.apiserver.store.base import TooOld
from podnet.apiserver.store.memory import MemoryStore
from podnet.apiserver.store.sqlite import SchemaTooNew, SQLiteStore, StoreInUse

REPO = Path(__file__).resolve().parents[3]


def test_objects_and_rv_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    s = SQLiteStore(path)
    for i in range(5):
        s.create(f"core/pods/default/p{i}", {"metadata": {"name": f"p{i}"}, "spec": {"i": i}})
    s.update("core/pods/default/p1", {"metadata": {"name": "p1"}, "spec": {"i": 100}})
    s.delete("core/pods/default/p4")
    s.delete("core/pods/default/p3")  # the last writes are deletes: rv must not fall back
    s.close()

    s = SQLiteStore(path)
    try:
        assert s.current_rv() == 8
        items, at = s.list("core/pods/")
        assert at == 8
        assert [(o["metadata"]["name"], o["spec"]["i"]) for o in items] == [
            ("p0", 0),
            ("p1", 100),
            ("p2", 2),
        ]
        assert s.get("core/pods/default/p1") == {
            "metadata": {"name": "p1", "resourceVersion": "6"},
            "spec": {"i": 100},
        }
        assert (
            s.create("core/pods/default/p9", {"metadata": {"name": "p9"}})["metadata"][
                "resourceVersion"
            ]
            == "9"
        )
    finally:
        s.close()


def test_rv_of_updates_survives_reopen_and_schema_1_upgrades(tmp_path: Path) -> None:
    """Creates and updates move the rv through their rows only (one statement each);
    a schema-1 file (meta.rv moved by every write) opens with its rv and is upgraded."""
    path = tmp_path / "s.sqlite"
    s = SQLiteStore(path)
    s.create("core/pods/default/a", {"metadata": {"name": "a"}})
    s.delete("core/pods/default/a")
    s.create("core/pods/default/b", {"metadata": {"name": "b"}})
    s.update("core/pods/default/b", {"metadata": {"name": "b"}, "spec": {}})
    s.close()
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT value FROM meta WHERE name = 'rv'").fetchone() == (2,)
        assert c.execute("SELECT rv FROM objects").fetchall() == [(4,)]
        # as schema 1 left it after a last delete: meta.rv above every row
        c.execute("UPDATE meta SET value = 1 WHERE name = 'schema'")
        c.execute("UPDATE meta SET value = 7 WHERE name = 'rv'")
    c.close()
    s = SQLiteStore(path)
    try:
        assert s.current_rv() == 7
        assert (
            s.create("core/pods/default/c", {"metadata": {"name": "c"}})["metadata"][
                "resourceVersion"
            ]
            == "8"
        )
    finally:
        s.close()
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone() == (2,)
    c.close()


def test_watch_from_before_a_restart_is_too_old(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    s = SQLiteStore(path)
    s.create("core/pods/default/a", {"metadata": {"name": "a"}})
    s.create("core/pods/default/b", {"metadata": {"name": "b"}})
    s.close()
    s = SQLiteStore(path)
    try:
        with pytest.raises(TooOld):
            s.watch("core/pods/", 1)
        w = s.watch("core/pods/", 2)
        s.delete("core/pods/default/a")
        assert [(e.type, e.rv) for e in w.poll()] == [("DELETED", 3)]
        w.close()
    finally:
        s.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE meta SET value = 99 WHERE name = 'schema'")
    c.close()
    with pytest.raises(SchemaTooNew, match="schema 99"):
        SQLiteStore(path)


def test_second_open_of_the_same_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    s = SQLiteStore(path)
    try:
        with pytest.raises(StoreInUse):
            SQLiteStore(path)
        s.create("core/pods/default/a", {"metadata": {"name": "a"}})  # still usable
    finally:
        s.close()
    SQLiteStore(path).close()  # free again once closed


def test_files_are_owner_only(tmp_path: Path) -> None:
    s = open_store(tmp_path / "data")
    try:
        s.create("core/secrets/default/s", {"metadata": {"name": "s"}, "data": {"k": "dg=="}})
        assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
        files = sorted(p.name for p in (tmp_path / "data").iterdir())
        assert DB_NAME in files
        for name in files:
            assert stat.S_IMODE((tmp_path / "data" / name).stat().st_mode) == 0o600, name
    finally:
        s.close()


def test_open_store_without_a_data_dir_is_memory() -> None:
    s = open_store(None)
    assert isinstance(s, MemoryStore) and not isinstance(s, SQLiteStore)
    s.close()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from podnet.apiserver.store.sqlite import SQLiteStore

    s = SQLiteStore(Path(sys.argv[1]))
    i = 0
    while True:
        key = f"core/configmaps/default/cm-{i}"
        s.create(key, {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i) * 100}})
        if i % 3 == 0:
            s.update(key, {"metadata": {"name": f"cm-{i}"}, "data": {"i": "updated"}})
            key += " updated"
        print(key, flush=True)
        i += 1
    """
)


def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    acked: list[str] = []
    with proc.stdout:
        # 300 writes, then ~50 ms more, so the kill lands wherever the writer is then
        # (not at a count that could line up with some batching of commits)
        deadline = None
        for line in proc.stdout:
            acked.append(line)
            if len(acked) == 300:
                deadline = time.monotonic() + 0.05
            if deadline is not None and time.monotonic() >= deadline:
                os.kill(proc.pid, signal.SIGKILL)
                break
        acked.extend(proc.stdout)  # whatever was printed before the kill landed
    assert proc.wait(timeout=10) == -signal.SIGKILL
    complete = [line.rstrip("\n") for line in acked if line.endswith("\n")]
    assert len(complete) >= 300

    s = SQLiteStore(path)  # also proves the killed process's lock is gone
    try:
        for entry in complete:
            key, _, updated = entry.partition(" ")
            obj = s.get(key)
            assert obj is not None, key
            assert (obj["data"]["i"] == "updated") == bool(updated), key
        assert s.current_rv() >= len(complete)
        items, at = s.list("core/configmaps/")
        assert at == s.current_rv()
        # nothing half-written: every stored object parses and carries its rv
        assert all(int(o["metadata"]["resourceVersion"]) <= at for o in items)
    finally:
        s.close()
