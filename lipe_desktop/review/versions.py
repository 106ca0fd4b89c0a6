"""The album's "Edited versions": each original followed by its versions (no math, no Qt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def grouped_versions(lib: Any, version_type: Any) -> tuple[list[Any], dict[int, str]]:
    """(grid items, badges): each edited photo's original, then its versions oldest first, badged
    "original" and "v1", "v2"... (``version_type`` builds a grid item of an edit, as the album does)."""
    items: list[Any] = []
    badges: dict[int, str] = {}
    by_photo: dict[int, list[Any]] = {}
    for e in lib.list_edits():
        by_photo.setdefault(e.photo_id, []).append(e)
    for photo_id, edits in by_photo.items():
        photo = lib.get_photo(photo_id)
        items.append(photo)
        badges[photo.id] = "original"
        for n, e in enumerate(edits, 1):
            item = version_type(-e.id, Path(e.output_path), e.id, e.photo_id, taken_at=e.created_at[:19])
            items.append(item)
            seed = e.recipe.get("seed") if e.recipe else None
            badges[item.id] = f"v{n}" + (f" · seed {seed}" if seed is not None else "")
    return items, badges
