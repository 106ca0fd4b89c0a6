"""Folders and photos records (the scanner in ``scan.py`` is what fills them from disk)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._base import LibraryBase
from .db import LibraryError
from .records import Folder, Photo
from .safe_paths import check_path_text

PhotoRef = int | str | os.PathLike[str] | Photo
FolderRef = int | str | os.PathLike[str] | Folder

_ORDER = {
    "taken": "COALESCE(taken_at, added_at), id",
    "path": "path",
    "added": "id",
}


# Photo ids name files (``edits/<photo id>/``), so an id is never handed out twice. The photos table has
# no AUTOINCREMENT (adding it means a table rebuild, a schema version): instead the highest id ever
# deleted is kept in the settings table, and new photos are numbered above it.
PHOTO_ID_HIGH_WATER = "photo_id_high_water"
NEXT_PHOTO_ID = (
    "(SELECT MAX(COALESCE((SELECT MAX(id) FROM photos), 0), "
    f"COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = '{PHOTO_ID_HIGH_WATER}'), 0)) + 1)"
)


def remember_photo_ids(c: Any, at_least: int = 0) -> None:
    """Before photos are deleted: no id up to the current highest (or ``at_least``) is used again."""
    c.execute(
        "INSERT INTO settings(key, value) VALUES (?, CAST(MAX(?, COALESCE((SELECT MAX(id) FROM photos), 0)) AS TEXT)) "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(MAX(COALESCE(CAST(settings.value AS INTEGER), 0), "
        "CAST(excluded.value AS INTEGER)) AS TEXT)",
        (PHOTO_ID_HIGH_WATER, int(at_least)),
    )


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(check_path_text(path).expanduser()))


class PhotosMixin(LibraryBase):
    # --- folders ----------------------------------------------------------------------------------

    def add_folder(self, path: str | os.PathLike[str]) -> Folder:
        """Register a folder of photos (not scanned yet; see ``scan_folders``). Idempotent."""
        p = _real(path)
        if not p.exists():
            raise LibraryError(f"folder '{path}' does not exist", "check the path")
        if not p.is_dir():
            raise LibraryError(f"'{path}' is a file, not a folder", "give the folder that holds the photos")
        if not os.access(p, os.R_OK | os.X_OK):
            raise LibraryError(f"folder '{path}' cannot be read", "check its permissions")
        data = _real(self.data_dir)
        if p == data or data in p.parents:
            raise LibraryError(
                f"folder '{path}' is inside the app's data folder '{data}'", "add a folder of your own photos"
            )
        for f in self.list_folders():
            if f.path == p:
                return f
            if f.path in p.parents:
                raise LibraryError(
                    f"folder '{p}' is already part of library folder '{f.path}'", "scan that folder instead"
                )
            if p in f.path.parents:
                raise LibraryError(
                    f"folder '{p}' contains library folder '{f.path}'",
                    f"remove '{f.path}' first (lipe library remove), then add '{p}'",
                )
        with self.transaction() as c:
            cur = c.execute("INSERT INTO folders(path) VALUES (?)", (str(p),))
            fid = cur.lastrowid
        return self.get_folder(int(fid or 0))

    def get_folder(self, ref: FolderRef) -> Folder:
        if isinstance(ref, Folder):
            ref = ref.id
        if isinstance(ref, int):
            row = self._one("SELECT * FROM folders WHERE id = ?", (ref,))
        else:
            row = self._one("SELECT * FROM folders WHERE path = ?", (str(_real(ref)),))
        if row is None:
            raise LibraryError(
                f"folder '{ref}' is not in the library", "add it with `lipe library add FOLDER`"
            )
        return Folder.from_row(row)

    def list_folders(self) -> list[Folder]:
        return [Folder.from_row(r) for r in self._all("SELECT * FROM folders ORDER BY path")]

    def remove_folder(self, ref: FolderRef) -> None:
        """Forget a folder and its photos' records (captions, identity links, edit records).

        The files on disk, originals and edit outputs alike, are left alone.
        """
        folder = self.get_folder(ref)
        with self.transaction() as c:
            remember_photo_ids(c)
            c.execute("DELETE FROM folders WHERE id = ?", (folder.id,))

    # --- photos -----------------------------------------------------------------------------------

    def get_photo(self, ref: PhotoRef) -> Photo:
        """A photo by id, by path (any spelling of it) or a Photo record (re-read)."""
        if isinstance(ref, Photo):
            ref = ref.id
        if isinstance(ref, int):
            row = self._one("SELECT * FROM photos WHERE id = ?", (ref,))
        else:
            absolute = os.path.abspath(check_path_text(ref, "photo").expanduser())
            row = self._one("SELECT * FROM photos WHERE path = ?", (absolute,))
            if row is None:
                row = self._one("SELECT * FROM photos WHERE path = ?", (str(_real(ref)),))
            if row is None and str(ref).isdigit():
                row = self._one("SELECT * FROM photos WHERE id = ?", (int(str(ref)),))
        if row is None:
            raise LibraryError(
                f"photo '{ref}' is not in the library",
                "add its folder with `lipe library add FOLDER` (or run `lipe library scan`)",
            )
        return Photo.from_row(row)

    def list_photos(
        self,
        folder: FolderRef | None = None,
        *,
        include_missing: bool = False,
        include_duplicates: bool = True,
        order: str = "taken",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Photo]:
        """Photos, oldest taken first by default (``order``: taken | path | added)."""
        if order not in _ORDER:
            raise LibraryError(f"unknown photo order '{order}'", f"use one of {', '.join(_ORDER)}")
        if limit is not None and (isinstance(limit, bool) or not 0 <= int(limit) <= 2**62):
            raise LibraryError(f"photo limit {limit} is not usable", "give 0 or more (or no limit)")
        if isinstance(offset, bool) or not 0 <= int(offset) <= 2**62:
            raise LibraryError(f"photo offset {offset} is not usable", "give 0 or more")
        where, params = self._photo_filter(folder, include_missing, include_duplicates)
        sql = f"SELECT {Photo.COLUMNS} FROM photos {where} ORDER BY {_ORDER[order]}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        cur = self.conn.cursor()
        cur.row_factory = None  # plain tuples: several times cheaper than sqlite3.Row for big albums
        return [Photo.from_tuple(t) for t in cur.execute(sql, params)]

    def count_photos(
        self,
        folder: FolderRef | None = None,
        *,
        include_missing: bool = False,
        include_duplicates: bool = True,
    ) -> int:
        where, params = self._photo_filter(folder, include_missing, include_duplicates)
        row = self._one(f"SELECT COUNT(*) FROM photos {where}", params)
        return int(row[0]) if row else 0

    def duplicates_of(self, ref: PhotoRef) -> list[Photo]:
        """Every other photo with the same content (same bytes)."""
        p = self.get_photo(ref)
        rows = self._all(
            "SELECT * FROM photos WHERE content_hash = ? AND id != ? AND missing = 0 ORDER BY id",
            (p.content_hash, p.id),
        )
        return [Photo.from_row(r) for r in rows]

    def scan_issues(self, folder: FolderRef | None = None) -> list[tuple[str, str]]:
        """(path, reason) of files the last scans skipped."""
        if folder is None:
            rows = self._all("SELECT path, reason FROM scan_issues ORDER BY path")
        else:
            rows = self._all(
                "SELECT path, reason FROM scan_issues WHERE folder_id = ? ORDER BY path",
                (self.get_folder(folder).id,),
            )
        return [(r[0], r[1]) for r in rows]

    def _photo_filter(
        self, folder: FolderRef | None, include_missing: bool, include_duplicates: bool
    ) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        if folder is not None:
            clauses.append("folder_id = ?")
            params.append(self.get_folder(folder).id)
        if not include_missing:
            clauses.append("missing = 0")
        if not include_duplicates:
            clauses.append("duplicate_of IS NULL")
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params
