"""Removing photos from the library while their files stay (the album's Delete), and undoing it.

A removed photo's record goes, and with it what the database hangs on it (its captions, identity
links and edit records; the edited images stay under the data folder); its path is kept in
``removed_photos`` so a rescan does not add it back. ``restore_removed`` forgets those paths: the
next scan imports the files again as new photos. The files themselves are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from ._base import now_iso
from .photos import PhotosMixin, remember_photo_ids
from .records import Photo

T = TypeVar("T")


def what_goes_with(lib: PhotosMixin, photos: Sequence[Photo]) -> dict[str, int]:
    """Counts of the records that go with these photos: captions, identity links, edits."""
    ids = [p.id for p in photos]
    if not ids:
        return {"captions": 0, "identity links": 0, "edits": 0}
    marks = ",".join("?" * len(ids))
    out = {}
    for label, table in (("captions", "captions"), ("identity links", "identity_photos"), ("edits", "edits")):
        row = lib.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE photo_id IN ({marks})", ids).fetchone()
        out[label] = int(row[0])
    return out


def remove_photos(lib: PhotosMixin, photos: Iterable[Photo]) -> int:
    """Take photos out of the library in one transaction (files untouched); returns how many."""
    resolved = [lib.get_photo(p) for p in photos]
    with lib.transaction() as c:
        remember_photo_ids(c)  # a removed photo's id (and its edits/<id>/ folder) is never handed out again
        for p in resolved:
            c.execute(
                "INSERT INTO removed_photos(path, folder_id, content_hash, removed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET content_hash = excluded.content_hash, "
                "removed_at = excluded.removed_at",
                (str(p.path), p.folder_id, p.content_hash, now_iso()),
            )
            c.execute("DELETE FROM photos WHERE id = ?", (p.id,))
    return len(resolved)


def removed_paths(lib: PhotosMixin, folder_id: int | None = None) -> set[str]:
    sql, args = "SELECT path FROM removed_photos", []
    if folder_id is not None:
        sql, args = sql + " WHERE folder_id = ?", [folder_id]
    return {r[0] for r in lib.conn.execute(sql, args).fetchall()}


def without_removed(lib: PhotosMixin, items: list[T], path_of: Callable[[T], str]) -> list[T]:
    """The scan's filter: items whose path the user removed are left out."""
    removed = removed_paths(lib)
    return [it for it in items if path_of(it) not in removed] if removed else items


def restore_removed(lib: PhotosMixin, folder_id: int | None = None) -> int:
    """Forget removals (of one folder, or all): the next scan imports those files again."""
    with lib.transaction() as c:
        if folder_id is None:
            return int(c.execute("DELETE FROM removed_photos").rowcount)
        return int(c.execute("DELETE FROM removed_photos WHERE folder_id = ?", (folder_id,)).rowcount)
