"""The object store behind the API (interface in ``base``; backends ``memory``, ``sqlite``)."""

from __future__ import annotations

from pathlib import Path

from podnet.apiserver.store.base import Store

DB_NAME = "store.sqlite"


def open_store(data_dir: Path | None) -> Store:
    """SQLite in ``data_dir`` (created 0700 when missing), or memory when None."""
    if data_dir is None:
        from podnet.apiserver.store.memory import MemoryStore

        return MemoryStore()
    from podnet.apiserver.store.sqlite import SQLiteStore

    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return SQLiteStore(data_dir / DB_NAME)
