"""The library's SQLite file: connection settings, schema and numbered migrations.

(Opening the file, with its checks, recovery hints and the backup before a migration, is
``opening.py``: it needs the backups, which need this module.)

The schema version lives in ``PRAGMA user_version``. ``MIGRATIONS[i]`` takes a database at version
``i`` to version ``i + 1``; a fresh file runs them all. Each migration runs inside one
``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash mid-upgrade leaves the
previous version intact. A file newer than this code is refused with a clear message rather than
guessed at.

Concurrency: the GUI and the CLI may open the same file at once. Connections use WAL (readers never
block the writer), a busy timeout (a writer waits instead of failing) and ``BEGIN IMMEDIATE`` for
every write transaction (no deadlock when two readers both try to upgrade to writers).
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import LipeError

BUSY_TIMEOUT_S = 30.0


class LibraryError(LipeError):
    """The library file or a record in it is unusable or missing."""


# --- migrations -----------------------------------------------------------------------------------

_V1 = """
CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    last_scan_at TEXT
);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    taken_at TEXT,
    orientation INTEGER NOT NULL DEFAULT 1,
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX photos_hash ON photos(content_hash);
CREATE INDEX photos_folder ON photos(folder_id);
CREATE TABLE identities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    class_word TEXT NOT NULL,
    token TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('person', 'pet', 'object')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE TABLE identity_photos (
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('reference', 'target')),
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    PRIMARY KEY (identity_id, photo_id)
);
CREATE TABLE captions (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model TEXT,
    prompt TEXT,
    text TEXT NOT NULL,
    edited_by_user INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE UNIQUE INDEX captions_photo ON captions(photo_id);
"""

_V2 = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    log TEXT NOT NULL DEFAULT '',
    identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    started_at TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    finished_at TEXT
);
CREATE INDEX jobs_state ON jobs(state);
CREATE TABLE loras (
    id INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    base_model TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE TABLE edits (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    parent_edit_id INTEGER REFERENCES edits(id) ON DELETE SET NULL,
    identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
    lora_id INTEGER REFERENCES loras(id) ON DELETE SET NULL,
    source_prompt TEXT NOT NULL DEFAULT '',
    target_prompt TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    mask_paths TEXT NOT NULL DEFAULT '[]',
    output_path TEXT NOT NULL,
    job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX edits_photo ON edits(photo_id);
"""

# v3: photos that vanished are kept (their identities, captions and edits survive) but flagged;
# duplicates point at the first photo with the same content; skipped files are logged; captions
# may be specific to one identity (its rare token) or generic (identity_id NULL); suggestions and
# user rejections live next to confirmations in identity_photos; per-library settings.
_V3 = """
ALTER TABLE photos ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN duplicate_of INTEGER REFERENCES photos(id) ON DELETE SET NULL;
ALTER TABLE photos ADD COLUMN format TEXT NOT NULL DEFAULT '';
ALTER TABLE folders ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;
CREATE TABLE scan_issues (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE UNIQUE INDEX scan_issues_path ON scan_issues(path);
ALTER TABLE identity_photos ADD COLUMN status TEXT NOT NULL DEFAULT 'confirmed'
    CHECK (status IN ('confirmed', 'suggested', 'rejected'));
ALTER TABLE identity_photos ADD COLUMN score REAL;
ALTER TABLE captions ADD COLUMN identity_id INTEGER REFERENCES identities(id) ON DELETE CASCADE;
DROP INDEX captions_photo;
CREATE UNIQUE INDEX captions_photo_identity ON captions(photo_id, COALESCE(identity_id, 0));
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# v4: image embeddings for "find similar photos", keyed by model so switching models never mixes.
_V4 = """
CREATE TABLE embeddings (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (photo_id, model)
);
"""

# v5: the album's default order (time taken) served by an index, so a page of a large library is
# read without sorting every row.
_V5 = """
CREATE INDEX photos_taken ON photos(COALESCE(taken_at, added_at), id);
"""

# v7: photos the user removed from the library (the album's Delete; files untouched): their paths,
# so a rescan does not add them back (lipe_engine/library/removals.py).
_V7 = """
CREATE TABLE removed_photos (
    path TEXT PRIMARY KEY,
    folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    removed_at TEXT NOT NULL
);
"""


# v6: identity and job ids are never reused (AUTOINCREMENT). A deleted identity's id handed to a new
# one would adopt its files (``loras/<id>/``) and its old jobs' records. SQLite cannot add
# AUTOINCREMENT in place: each table is rebuilt (foreign keys are off during migrations, see
# ``migrate``, so dropping the old table cascades nothing) and its indexes recreated.
_REBUILT_V6 = ("identities", "jobs")


def _v6(conn: sqlite3.Connection) -> None:
    for table in _REBUILT_V6:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
        indexes = [r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
        body = sql.partition("(")[2]
        if "id INTEGER PRIMARY KEY," not in body:
            raise sqlite3.DatabaseError(f"table {table} has an unexpected layout; cannot add AUTOINCREMENT")
        body = body.replace("id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,", 1)
        conn.execute(f"CREATE TABLE {table}_v6 ({body}")
        conn.execute(f"INSERT INTO {table}_v6 SELECT * FROM {table}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_v6 RENAME TO {table}")
        for index in indexes:
            conn.execute(index)
    bad = conn.execute("PRAGMA foreign_key_check").fetchall()
    if bad:
        raise sqlite3.IntegrityError(f"foreign keys broken by the v6 rebuild: {bad[:3]}")


# v8: replayable versions. Each edit keeps the recipe that made it (model and LoRA hashes, seeds,
# scheduler, device, precision, settings, app version); results of queued edit jobs wait in
# edit_results for the user's review, and the kept ones become edits. One self-contained function
# (no other migration refers to it), so it can be renumbered when branches merge.
_EDIT_VERSIONS = """
ALTER TABLE edits ADD COLUMN recipe TEXT NOT NULL DEFAULT '{}';
CREATE TABLE edit_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
    path TEXT NOT NULL UNIQUE,
    source_prompt TEXT NOT NULL DEFAULT '',
    target_prompt TEXT NOT NULL DEFAULT '',
    seed INTEGER,
    recipe TEXT NOT NULL DEFAULT '{}',
    mask_paths TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'kept', 'discarded')),
    edit_id INTEGER REFERENCES edits(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX edit_results_job ON edit_results(job_id, photo_id);
"""


def edit_versions_migration(conn: sqlite3.Connection) -> None:
    """Edits' recipes and the edit results awaiting review (see ``_EDIT_VERSIONS``)."""
    _script(_EDIT_VERSIONS)(conn)


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        # executescript would COMMIT our transaction; run statement by statement instead.
        for stmt in sql.split(";"):
            if stmt.strip():
                conn.execute(stmt)

    return run


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _script(_V1),
    _script(_V2),
    _script(_V3),
    _script(_V4),
    _script(_V5),
    _v6,
    _script(_V7),
    edit_versions_migration,
]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the file to ``target`` one numbered step at a time; returns the final version."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise LibraryError(
            f"library database is schema version {current}, newer than this app ({SCHEMA_VERSION})",
            "update LIPE Desktop, or point LIPE_DATA_DIR at another folder",
        )
    if current >= target:
        return current
    # Table rebuilds (v6) drop and recreate parents: with foreign keys on, the DROP would cascade
    # into the children. The pragma only changes outside a transaction; each migration checks keys.
    fk = int(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        while current < target:
            with write_transaction(conn):
                # Re-read under the write lock: another process may have migrated meanwhile.
                current = schema_version(conn)
                if current >= target:
                    break
                MIGRATIONS[current](conn)
                conn.execute(f"PRAGMA user_version = {current + 1}")
            current = schema_version(conn)
    finally:
        conn.execute(f"PRAGMA foreign_keys = {fk}")
    return current


# --- connections ----------------------------------------------------------------------------------


def set_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL, retrying: on a brand-new file several processes race for the exclusive lock
    this needs, and SQLite may report "locked" at once instead of waiting for the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def not_damaged_error(db_path: Path, exc: BaseException) -> LibraryError | None:
    """A lock, a full disk or a read-only file, named as such (restoring a backup would not help), or
    None when the error is something else."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return LibraryError(f"library database '{db_path}' is locked by another process (the desktop app or a "
                            f"`lipe` command) and stayed locked for {BUSY_TIMEOUT_S:.0f} s",
                            "wait for it to finish, or close it, then try again")
    if "disk is full" in text or "no space" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return LibraryError(f"the disk holding library database '{db_path}' is full; nothing more was written",
                            "free some space, then try again")
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return LibraryError(f"library database '{db_path}' (or its folder) is read-only",
                            "make it writable (chmod u+w), or set LIPE_DATA_DIR to a writable folder")
    if "unable to open" in text:
        return LibraryError(f"library database '{db_path}' cannot be opened ({exc})",
                            "check the folder's permissions and free disk space")
    return None


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All-or-nothing write: ``BEGIN IMMEDIATE`` (nested calls become savepoints)."""
    if conn.in_transaction:
        name = f"sp_{id(conn)}_{_savepoint_counter()}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException as exc:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        if type(exc) is sqlite3.DatabaseError:  # "database disk image is malformed": stop writing
            raise LibraryError(f"the library database is damaged ({exc}); nothing more was written",
                               "restore a backup with `lipe library restore`") from exc
        if isinstance(exc, sqlite3.OperationalError):
            named = not_damaged_error(_db_file(conn), exc)
            if named is not None:
                raise named from exc
        raise
    else:
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                named = not_damaged_error(_db_file(conn), exc)
                if named is not None:
                    raise named from exc
            raise


def _db_file(conn: sqlite3.Connection) -> Path:
    try:
        return Path(conn.execute("PRAGMA database_list").fetchone()[2] or "library.sqlite")
    except (sqlite3.Error, TypeError, IndexError):
        return Path("library.sqlite")


_counter = [0]


def _savepoint_counter() -> int:
    _counter[0] += 1
    return _counter[0]
