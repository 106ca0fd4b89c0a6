"""``Library``: the one object the GUI, the CLI and the engine use to reach the photo store.

Where it lives: an explicit ``path`` (a folder) wins, then the ``LIPE_DATA_DIR`` environment
variable, then the platform's user data folder (``lipe_engine.app_dirs.user_dir("data")``). The folder
holds ``library.sqlite`` plus the app's own files (``thumbs/``, ``edits/``, ``loras/``); originals
stay where the user keeps them and are only ever read.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from types import TracebackType

from ..app_dirs import user_dir
from ..locations import DB_NAME, DataLayout
from ..progress import CancelToken, ProgressCallback, ProgressReporter
from . import backup
from .db import LibraryError, not_damaged_error
from .jobs import JobsMixin
from .opening import connect, damaged_error
from .records import ScanReport
from .safe_paths import check_path_text
from .scan import scan_library
from .thumbs import DEFAULT_MAX_BYTES, ThumbnailCache
from .versions import VersionsMixin

log = logging.getLogger(__name__)
ENV_DATA_DIR = "LIPE_DATA_DIR"
THUMB_CAP_SETTING = "thumbnail_cache_mb"  # size cap of the thumbnail cache in MiB (default 512)


def default_data_dir() -> Path:
    return user_dir("data")  # $LIPE_DATA_DIR, else the platform's folder for the app's one name


class Library(VersionsMixin, JobsMixin):
    """The photo library (see the package docstring for the API summary)."""

    def __init__(self, data_dir: Path, *, new: bool = False) -> None:
        """``new``: start a new library where a deleted one's traces (backups, thumbnails) remain."""
        self.data_dir = data_dir
        existed = (data_dir / DB_NAME).is_file() and (data_dir / DB_NAME).stat().st_size > 0
        self.db = connect(data_dir / DB_NAME, new=new)
        self._thumbs: ThumbnailCache | None = None
        self._next_backup_check = backup._monotonic() + backup.CHECK_EVERY_S
        if existed:  # a library in use gets its daily backup when opened (a new, empty one need not)
            self._backup_quietly()

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, new: bool = False) -> Library:
        """Open (creating and migrating if needed) the library in ``path`` or the default data dir;
        ``new``: start a new library where a deleted one left its traces (see ``__init__``)."""
        d = check_path_text(path, "data folder").expanduser() if path is not None else default_data_dir()
        if d.exists() and not d.is_dir():
            raise LibraryError(
                f"data folder '{d}' is a file", f"point {ENV_DATA_DIR} (or --data-dir) at a folder"
            )
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(
                f"data folder '{d}' cannot be created ({exc.strerror})",
                f"set {ENV_DATA_DIR} to a writable folder",
            ) from exc
        if not os.access(d, os.W_OK):
            raise LibraryError(
                f"data folder '{d}' is not writable", f"set {ENV_DATA_DIR} to a writable folder"
            )
        return cls(d.absolute(), new=new)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
            # damage found after opening (a read hit a bad page): one line, not a traceback
            named = not_damaged_error(self.db_path, exc)  # a lock, a full disk, a read-only file
            if named is not None:
                raise named from exc
            if "malformed" in str(exc) or "not a database" in str(exc):
                raise damaged_error(self.db_path, str(exc)) from exc
            raise LibraryError(f"library database error ({exc})",
                               "try again; if it persists, `lipe library restore` lists backups") from exc

    # --- backups (backup.py) ----------------------------------------------------------------------

    def backup_now(self, reason: str = "manual") -> Path:
        """A backup of the library file now (online: other processes may keep writing)."""
        return backup.make_backup(self.conn, self.data_dir, reason)

    def backup_if_due(self) -> Path | None:
        """The daily backup when the newest backup is a day old; None when not due."""
        return backup.backup_if_due(self.conn, self.data_dir)

    def _backup_quietly(self) -> None:
        try:
            self.backup_if_due()
        except (OSError, sqlite3.Error) as exc:  # a full disk must not stop the user's work
            log.warning("library backup failed: %s", exc)

    def _after_commit(self) -> None:
        now = backup._monotonic()
        if now >= self._next_backup_check:
            self._next_backup_check = now + backup.CHECK_EVERY_S
            self._backup_quietly()

    # --- settings ---------------------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return row[0] if row is not None else default

    def set_setting(self, key: str, value: str | None) -> None:
        with self.transaction() as c:
            if value is None:
                c.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                c.execute(
                    "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    # --- scanning and thumbnails (implemented in scan.py / thumbs.py) -----------------------------

    @property
    def thumbnails(self) -> ThumbnailCache:
        """The thumbnail cache (``<data dir>/thumbs``), capped by the ``thumbnail_cache_mb`` setting."""
        if self._thumbs is None:
            cap = self.get_setting(THUMB_CAP_SETTING)
            max_bytes = DEFAULT_MAX_BYTES
            if cap and cap.replace(".", "", 1).isdigit() and 0 < float(cap) <= 2**20:  # up to 1 TiB
                max_bytes = int(float(cap) * 2**20)
            self._thumbs = ThumbnailCache(DataLayout(self.data_dir).thumbs, max_bytes=max_bytes)
        return self._thumbs

    def scan(
        self,
        folders: list[int] | None = None,
        *,
        progress: ProgressReporter | ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ScanReport:
        """Import/rescan ``folders`` (ids; all when None): new, changed and removed files, thumbnails."""
        return scan_library(self, self.thumbnails, folders, progress=progress, cancel=cancel)
