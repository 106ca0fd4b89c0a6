"""Stored photo vectors: one per photo and encoder, kept with the content hash it was computed from.

The library only keeps vectors; computing them is :mod:`lipe_engine.similarity`'s (with an encoder
of :mod:`lipe_engine.encoders`). Rows are keyed by the encoder's name, so switching models never
mixes vectors, and a changed photo (new content hash) counts as not embedded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .library import Library
    from .records import Photo


def embedded(lib: Library, model: str) -> set[tuple[int, str]]:
    """(photo id, content hash) of every vector stored for ``model``."""
    rows = lib.conn.execute("SELECT photo_id, content_hash FROM embeddings WHERE model = ?", (model,))
    return {(r[0], r[1]) for r in rows}


def store(lib: Library, model: str, rows: Iterable[tuple[Photo, np.ndarray]]) -> None:
    """Keep each photo's vector for ``model`` (replacing an older one), in one transaction."""
    with lib.transaction() as c:
        for photo, vec in rows:
            v = np.asarray(vec, dtype=np.float32).reshape(-1)
            c.execute(
                "INSERT INTO embeddings(photo_id, model, content_hash, dim, vector) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(photo_id, model) DO UPDATE SET content_hash = excluded.content_hash, "
                "dim = excluded.dim, vector = excluded.vector",
                (photo.id, model, photo.content_hash, int(v.shape[0]), v.tobytes()),
            )


def load(lib: Library, model: str, ids: Iterable[int]) -> dict[int, np.ndarray]:
    """The stored vectors of ``ids`` for ``model`` (photos without one are left out)."""
    wanted = set(ids)
    out: dict[int, np.ndarray] = {}
    for r in lib.conn.execute("SELECT photo_id, vector FROM embeddings WHERE model = ?", (model,)):
        if r[0] in wanted:
            out[r[0]] = np.frombuffer(r[1], dtype=np.float32)
    return out
