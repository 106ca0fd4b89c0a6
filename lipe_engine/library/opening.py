"""Opening the library file: checks before anything is written, recovery hints, the backup before a migration.

``db.py`` knows the schema and how to talk to SQLite; ``backup.py`` knows the backups. Opening the
file needs both (a damaged or missing file is refused with the backups' hint, a file about to be
migrated is backed up first), so it lives here, above both: db <- backup <- opening, no cycle.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from ..locations import DataLayout
from . import backup, db
from .db import (
    SCHEMA_VERSION,
    LibraryError,
    migrate,
    not_damaged_error,
    schema_version,
    set_wal,
)


def _held_a_library(data_dir: Path) -> bool:
    """Signs that a library lived here: backups, thumbnails, edits or priors."""
    return any(sub.is_dir() and any(sub.iterdir()) for sub in DataLayout(data_dir).library_traces())


def damaged_error(db_path: Path, detail: str) -> LibraryError:
    return LibraryError(f"library database '{db_path}' cannot be opened: it is damaged ({detail})",
                        backup.hint(db_path.parent))


def database_error(db_path: Path, exc: BaseException) -> LibraryError:
    """The one-line error for an SQLite failure on the library: lock, full disk, read-only, else damage."""
    return not_damaged_error(db_path, exc) or damaged_error(db_path, str(exc))


def _quick_check(conn: sqlite3.Connection, db_path: Path) -> None:
    """``PRAGMA quick_check`` (b-tree structure, no index cross-check: fast) before anything writes."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise database_error(db_path, exc) from exc
    if rows != ["ok"]:
        raise damaged_error(db_path, "; ".join(rows)[:200])


class MissingLibraryError(LibraryError):
    """The library file is gone from a folder that held a library: the user may restore it or
    start a new library there on purpose (``Library(..., new=True)``)."""


def _missing_error(db_path: Path) -> MissingLibraryError:
    """A library file gone from a folder that shows a library lived there (its backups, thumbnails...)."""
    traces = ", ".join(f"{sub.name}/" for sub in DataLayout(db_path.parent).library_traces()
                       if sub.is_dir() and any(sub.iterdir()))
    found = len(backup.list_backups(db_path.parent))
    fix = (f"restore the newest of its {found} backups with `lipe library restore` (it lists them)" if found else
           "put the file back (`lipe library restore` lists backups), or move the folder aside to start a new library")
    return MissingLibraryError(f"library database '{db_path}' is missing, but this folder held a library ({traces}); "
                        "a new empty one is not made in its place", fix)


def connect(db_path: Path, *, migrate_to: int | None = SCHEMA_VERSION,
            backups: bool = True, new: bool = False) -> sqlite_utils.Database:
    """Open (creating if needed) the library file with WAL, foreign keys and a busy timeout.

    An existing file is checked first (``quick_check``): a damaged one is refused before anything
    is written into it, pointing to the backups; so is an empty (0-byte) file where a library
    lived. A missing file where a library lived is refused too (not silently replaced by an empty
    one), unless ``new`` says the user starts a new library there on purpose. With ``backups``, a file
    about to be migrated is backed up first (``backup.py``).
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    existed = db_path.is_file() and db_path.stat().st_size > 0
    if not new and not os.path.lexists(db_path) and _held_a_library(db_path.parent):
        raise _missing_error(db_path)
    if db_path.is_file() and not existed and _held_a_library(db_path.parent):
        raise LibraryError(
            f"library database '{db_path}' is empty (0 bytes), but this folder held a library",
            backup.hint(db_path.parent))
    try:
        conn = sqlite3.connect(
            str(db_path), timeout=db.BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(db.BUSY_TIMEOUT_S * 1000)}")
        if existed:
            try:
                _quick_check(conn, db_path)
            except LibraryError:
                conn.close()
                raise
        mode = set_wal(conn)
        if str(mode).lower() != "wal":  # pragma: no cover - only on file systems without shm
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        if migrate_to is not None:
            version = schema_version(conn)
            if backups and existed and 0 < version < min(migrate_to, SCHEMA_VERSION):
                backup.make_backup(conn, db_path.parent, "before-migration")
            migrate(conn, migrate_to)
    except sqlite3.DatabaseError as exc:
        named = not_damaged_error(db_path, exc)
        if named is not None:
            raise named from exc
        raise LibraryError(
            f"library database '{db_path}' cannot be opened ({exc})",
            "move the damaged file aside and reopen (`lipe library restore` lists backups), "
            "or set LIPE_DATA_DIR to another folder",
        ) from exc
    conn.row_factory = sqlite3.Row
    return sqlite_utils.Database(conn)
