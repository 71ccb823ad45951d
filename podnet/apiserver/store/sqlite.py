"""The SQLite store: the in-memory store, with every write also committed to one file.

What etcd is to a kind/k3s cluster (k3s's default is SQLite through kine), kept to what
this API needs: reads are served from the in-memory index (loaded once at open), so
SQLite only sees writes, one transaction each (a create or update is a single
autocommitted statement), in resourceVersion order under the store's lock, on one
connection.

Durability: WAL journal with ``synchronous=NORMAL``. A commit is written to the WAL
file (``write(2)``) before the call returns, so it survives the process being killed
(SIGKILL included): the data is in the kernel's page cache and the next open replays
the WAL. It is not ``fsync``ed per commit, so a power loss or kernel crash may lose the
last transactions (never corrupting the file): an fsync per write would cost
milliseconds each on most disks, and a cluster that lost its machine has lost its pods
anyway. ``synchronous=FULL`` is the switch if that trade ever changes.

The last resourceVersion is the larger of the ``meta`` table's (moved by each delete)
and the highest row's (each create/update stores its rv in its row, in one statement),
so it never goes backwards after deletes and a restart. Schema 2 says so: a podnet
that knows only schema 1 (``meta.rv`` moved by every write) refuses the file.

The change log is not persisted: after a restart it starts
empty at the loaded resourceVersion and a watch from an older one gets 410, as after an
etcd compaction. The connection holds an exclusive lock on the file, so a second
``podnet up`` on the same data dir fails at open instead of forking the history.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from podnet import jsonbytes
from podnet.apiserver.store.base import Obj, StoreError
from podnet.apiserver.store.changelog import DEFAULT_MAX_EVENTS, DEFAULT_MAX_QUEUE
from podnet.apiserver.store.memory import MemoryStore

SCHEMA_VERSION = 2  # 2: meta.rv moves on deletes only; the rv is max(meta, rows)

_UPSERT = (
    "INSERT INTO objects (key, rv, data) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET rv = excluded.rv, data = excluded.data"
)
_DELETE = "DELETE FROM objects WHERE key = ?"
_SET_RV = "UPDATE meta SET value = ? WHERE name = 'rv'"


class SchemaTooNew(StoreError):
    """The file was written by a newer podnet; opening it could lose what it added."""


class StoreInUse(StoreError):
    """Another process has the data dir's store open."""


def _dumps(obj: Obj) -> str:
    return jsonbytes.dumps(obj).decode()


class _SharedStrings:
    """A json ``object_pairs_hook`` that gives equal keys and short values one string
    object across every object decoded with it: 10,000 loaded pods otherwise hold
    10,000 copies of "apiVersion", "containerPort", "IfNotPresent"... (less than half
    the memory with it, at no measurable cost in load time: bench/README.md)."""

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}

    def __call__(self, pairs: list[tuple[str, object]]) -> Obj:
        share = self.memo.setdefault
        return {
            share(k, k): share(v, v) if v.__class__ is str and len(v) < 40 else v for k, v in pairs
        }


class SQLiteStore(MemoryStore):
    def __init__(
        self,
        path: Path,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        self.path = path
        if not path.exists():  # the objects include Secrets: owner-only, as the data dir
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        # isolation_level=None: no implicit transactions; each write is BEGIN..COMMIT.
        conn = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
        try:
            objects, rv = _open(conn, path)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        super().__init__(max_events=max_events, max_queue=max_queue, _objects=objects, _rv=rv)

    def _persist(self, key: str, obj: Obj | None, rv: int) -> None:
        """A create or update is one statement, committed on its own (autocommit): the
        row carries its rv, and the store's rv at open is the larger of ``meta.rv`` and
        every row's (:func:`_open`). One call into SQLite instead of four (BEGIN, write,
        rv, COMMIT), each of which gives up the GIL and waits to get it back while the
        controllers run, with the store's write lock held. A delete still moves
        ``meta.rv`` in the same transaction, so the rv never falls back after it."""
        c = self._conn
        if obj is not None:
            c.execute(_UPSERT, (key, rv, _dumps(obj)))
            return
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(_DELETE, (key,))
            c.execute(_SET_RV, (rv,))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    def close(self) -> None:
        super().close()
        with self._lock:
            self._conn.close()  # a second close is a no-op


def _open(conn: sqlite3.Connection, path: Path) -> tuple[dict[str, Obj], int]:
    """Set the file up (or check its schema) and load every object and the last rv."""
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"{path}: cannot use a WAL journal (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")  # takes the exclusive lock, held from now on
    except sqlite3.OperationalError as e:
        if "locked" in str(e):
            raise StoreInUse(f"{path} is open in another process (another podnet up?)") from e
        raise
    try:
        conn.execute(_SCHEMA_META)
        conn.execute(_SCHEMA_OBJECTS)
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta VALUES ('schema', ?), ('rv', 0)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{path} has store schema {row[0]}, this podnet knows up to {SCHEMA_VERSION}:"
                " use a newer podnet or another --data-dir"
            )
        elif row[0] < SCHEMA_VERSION:  # schema 1's meta.rv is exact: valid as a floor
            conn.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (SCHEMA_VERSION,))
        rv = conn.execute(
            "SELECT max((SELECT value FROM meta WHERE name = 'rv'),"
            " coalesce((SELECT max(rv) FROM objects), 0))"
        ).fetchone()[0]
        decode = json.JSONDecoder(object_pairs_hook=_SharedStrings()).decode
        objects = {k: decode(d) for k, d in conn.execute("SELECT key, data FROM objects")}
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return objects, int(rv)


_SCHEMA_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
_SCHEMA_OBJECTS = (
    "CREATE TABLE IF NOT EXISTS objects "
    "(key TEXT PRIMARY KEY, rv INTEGER NOT NULL, data TEXT NOT NULL) WITHOUT ROWID"
)
