"""Rotating online backups of the library file, and restoring one.

The database is the user's curation (identities, captions, roles, jobs), so it is copied with
SQLite's online backup API (a consistent snapshot even while other processes write) into
``<data dir>/backups/library-<UTC time>-<reason>.sqlite``:

* ``before-migration``: before a schema upgrade touches the file (the last 3 kept);
* ``daily``: when a library is opened, and while it is in use (checked after writes, at most hourly),
  if the newest backup is a day old (the last 7 kept);
* ``manual`` / ``before-restore``: ``lipe library backup`` and the file a restore replaces (10 kept).

``restore`` checks the backup (``integrity_check``), moves the current file (and its WAL) aside as
``library.sqlite.replaced-<time>`` and only then puts the copy in place: nothing is overwritten.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..locations import DB_NAME, DataLayout
from .db import SCHEMA_VERSION, LibraryError
from .photos import remember_photo_ids as photo_ids_used_up_to

DAY_S = 24 * 3600.0
CHECK_EVERY_S = 3600.0
KEEP = {"daily": 7, "before-migration": 3}
KEEP_DAILY = KEEP["daily"]
KEEP_OTHER = 10
_NAME = re.compile(r"^library-(\d{8}T\d{6}Z)-([a-z-]+?)(?:-(\d+))?\.sqlite$")


def _now() -> float:
    return time.time()


def _monotonic() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class Backup:
    path: Path
    created: float  # seconds since the epoch (UTC), from the name
    reason: str

    @property
    def name(self) -> str:
        return self.path.name

    def describe(self) -> str:
        """'2026-12-01 16:45 UTC  daily  12 identities, 3,204 photos  1.2 MB' (counts read-only)."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                idents = conn.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
                photos = conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
                counts = f"{idents} identities, {photos} photos"
            finally:
                conn.close()
        except sqlite3.Error:
            counts = "unreadable"
        return f"{when}  {self.reason:<16} {counts}, {self.path.stat().st_size / 1e6:.1f} MB"


def backups_dir(data_dir: Path) -> Path:
    return DataLayout(data_dir).backups


def list_backups(data_dir: Path) -> list[Backup]:
    """Oldest first."""
    d = backups_dir(data_dir)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            created = float(calendar.timegm(time.strptime(m.group(1), "%Y%m%dT%H%M%SZ")))
            found.append(Backup(p, created, m.group(2)))
    return sorted(found, key=lambda b: (b.created, b.name))


def make_backup(conn: sqlite3.Connection, data_dir: Path, reason: str) -> Path:
    """Copy the open library ``conn`` (online, consistent) into a new rotating backup file."""
    d = backups_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(_now()))
    final = d / f"library-{stamp}-{reason}.sqlite"
    n = 1
    while final.exists():
        n += 1
        final = d / f"library-{stamp}-{reason}-{n}.sqlite"
    _remove_abandoned_partials(d)
    tmp = d / f".{final.name}.{os.getpid()}-{threading.get_ident()}.partial"  # GUI threads open their own
    try:
        dst = sqlite3.connect(tmp)
        try:
            conn.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
        os.replace(tmp, final)
    except BaseException:  # a full disk, a kill signal: no half copy is left behind
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise
    _rotate(data_dir, reason)
    return final


_PARTIAL = re.compile(r"^\.library-.*\.sqlite\.(\d+)-\d+\.partial(?:-journal)?$")


def _remove_abandoned_partials(d: Path) -> None:
    """``.partial`` copies of backups whose process was killed (its pid is gone): our own files."""
    for p in d.iterdir():
        m = _PARTIAL.match(p.name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                p.unlink()
        except (PermissionError, OverflowError):
            continue


def _rotate(data_dir: Path, reason: str) -> None:
    """Keep the newest backups of each reason, and always also the newest ones that hold a library's
    data: the backups of a new or emptied library never rotate the last good ones out."""
    same = [b for b in list_backups(data_dir) if b.reason == reason]
    keep = KEEP.get(reason, KEEP_OTHER)
    old = same[:-keep]
    if not old:
        return
    newest = same[-keep:]
    kept_with_data = sum(1 for b in newest if _holds_data(b.path))
    for b in reversed(old):  # newest first: those are the ones worth keeping
        if kept_with_data < keep and _holds_data(b.path):
            kept_with_data += 1
            continue
        with contextlib.suppress(OSError):  # another process rotated it first
            b.path.unlink()


def _holds_data(path: Path) -> bool:
    """Whether a backup holds any photo or identity (read-only; an unreadable one counts as data: kept)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("photos", "identities"))
        finally:
            conn.close()
    except sqlite3.Error:
        return True


def backup_if_due(conn: sqlite3.Connection, data_dir: Path) -> Path | None:
    """A ``daily`` backup when the newest backup of any kind is a day old (or there is none)."""
    found = list_backups(data_dir)
    if found and _now() - found[-1].created < DAY_S:
        return None
    return make_backup(conn, data_dir, "daily")


def hint(data_dir: Path) -> str:
    """The recovery advice for a damaged or empty library file."""
    n = len(list_backups(data_dir))
    if n:
        return (f"restore a backup with `lipe library restore` ({n} in {backups_dir(data_dir)}; "
                "it lists them, and keeps the damaged file aside)")
    return ("no backups were found in "
            f"{backups_dir(data_dir)}; move the file aside to start a new library (`lipe library restore` lists backups)")


def find(data_dir: Path, ref: str) -> Backup:
    """A backup by file name or by its number in ``lipe library restore``'s list (1 = oldest)."""
    found = list_backups(data_dir)
    for i, b in enumerate(found, start=1):
        if ref in (b.name, str(b.path), str(i)):
            return b
    raise LibraryError(f"backup '{ref}' is not in {backups_dir(data_dir)}",
                       "run `lipe library restore` to list the backups")


def _check_backup(b: Backup) -> None:
    try:
        conn = sqlite3.connect(f"file:{b.path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        result, version = str(exc), 0
    if result != "ok":
        raise LibraryError(f"backup '{b.name}' is damaged ({result})", "restore another backup")
    if not 0 < version <= SCHEMA_VERSION:
        raise LibraryError(f"backup '{b.name}' has schema version {version}",
                           f"restore a backup of version 1 to {SCHEMA_VERSION}")


def _in_use(current: Path) -> bool:
    """Whether another process has the library open. Every WAL connection keeps a ``-shm`` file and
    a shared lock; an exclusive lock is then refused. (A damaged file cannot be locked: not in use.)"""
    if not os.path.lexists(str(current) + "-shm"):
        return False
    try:
        conn = sqlite3.connect(str(current), timeout=0, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()
    return False


def restore(data_dir: Path, ref: str) -> tuple[Backup, Path | None]:
    """Put backup ``ref`` in place; returns it and where the replaced file was moved (None if none)."""
    data_dir = Path(data_dir)
    b = find(data_dir, ref)
    _check_backup(b)
    current = data_dir / DB_NAME
    if _in_use(current):
        raise LibraryError(f"the library '{current}' is open in another process (the desktop app or a `lipe` "
                           "command)", "close it, then restore")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(_now()))
    aside = data_dir / f"{DB_NAME}.replaced-{stamp}"
    n = 1
    while os.path.lexists(aside):
        n += 1
        aside = data_dir / f"{DB_NAME}.replaced-{stamp}-{n}"
    tmp = data_dir / f".{DB_NAME}.restoring-{os.getpid()}"
    shutil.copyfile(b.path, tmp)
    moved: Path | None = None
    try:
        if os.path.lexists(current):
            for suffix in ("-wal", "-shm"):  # the WAL belongs to the file it is moved aside with
                side = Path(str(current) + suffix)
                if os.path.lexists(side):
                    os.replace(side, Path(str(aside) + suffix))
            os.replace(current, aside)
            moved = aside
        if os.path.lexists(current):  # another process created one meanwhile: leave both alone
            raise LibraryError(f"'{current}' was recreated during the restore", "close the app and restore again")
        try:
            os.link(tmp, current)  # fails rather than replace a file that appeared meanwhile
        except FileExistsError as exc:
            raise LibraryError(f"'{current}' was recreated during the restore", "close the app and restore again") from exc
        except OSError:  # a file system without hard links
            os.replace(tmp, current)
    finally:
        if tmp.exists():
            tmp.unlink()
    _keep_ids_unused(current, moved, data_dir)
    return b, moved


def _max_numbered_folder(folder: Path) -> int:
    """The highest ``<folder>/<number>/`` (``loras/<identity id>``, ``edits/<photo id>``), 0 if none."""
    try:
        return max((int(p.name) for p in folder.iterdir() if p.name.isdigit() and len(p.name) < 19), default=0)
    except OSError:
        return 0


def _max_id(db: Path | None, table: str) -> int:
    if db is None:
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)  # creates no -shm beside it
        try:
            return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
        finally:
            conn.close()
    except (sqlite3.Error, TypeError, ValueError):
        return 0


def _keep_ids_unused(current: Path, replaced: Path | None, data_dir: Path) -> None:
    """An older backup does not know the ids handed out since it was made; ids name files (``loras/<id>``,
    ``edits/<id>``), so the restored file is told to number new identities, jobs and photos above every id
    the replaced file or the data folder has used. Best effort: an old schema lacks the tables."""
    layout = DataLayout(data_dir)
    floors = {
        "identities": max(_max_id(replaced, "identities"), _max_numbered_folder(layout.loras)),
        "jobs": _max_id(replaced, "jobs"),
    }
    photos = max(_max_id(replaced, "photos"), _max_numbered_folder(layout.edits))
    try:
        conn = sqlite3.connect(str(current), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table, floor in floors.items():
                if not floor or not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
                    continue
                if conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (floor, table)).rowcount == 0:
                    conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", (table, floor))
            if photos and conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'settings'").fetchone():
                photo_ids_used_up_to(conn, photos)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error:
        pass
