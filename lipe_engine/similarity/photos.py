"""Embed a library's photos with CLIP and keep the vectors (computed once per photo content and model).

Embeddings are computed from the cached thumbnails (256 px is more than CLIP's 224), L2-normalised,
and stored with the photo's content hash, so a changed photo is embedded again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PIL import Image

from .. import encoders
from ..library import Library, LibraryError, vectors
from ..library.records import Photo
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter

if TYPE_CHECKING:
    from ..encoders import ClipEncoder

# how a user of `lipe` sets the model; the desktop passes its Settings field instead
WHERE = "`lipe library set-clip-model MODEL` (or $LIPE_CLIP_MODEL)"


def clip_for_library(lib: Library, explicit: str | os.PathLike[str] | None = None,
                     device: str | None = None, *, where: str = WHERE) -> ClipEncoder:
    """The library's CLIP (the ``clip_model`` key), image side only."""
    return encoders.ClipEncoder.configured(lib, explicit, device, where=where, text=False)


def embed_photos(
    lib: Library,
    encoder: ClipEncoder,
    photos: list[Photo] | None = None,
    *,
    batch_size: int = 16,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Compute the missing or stale vectors of ``photos`` (all present photos by default)."""
    reporter = as_reporter(progress, cancel)
    photos = photos if photos is not None else lib.list_photos()
    have = vectors.embedded(lib, encoder.source)
    todo = [p for p in photos if (p.id, p.content_hash) not in have and not p.missing]
    reporter.start("embedding photos", len(todo))
    done = 0
    for i in range(0, len(todo), batch_size):
        batch, images = [], []
        for p in todo[i : i + batch_size]:
            try:
                with Image.open(lib.thumbnails.get(p)) as im:
                    images.append(im.convert("RGB"))
                batch.append(p)
            except (LibraryError, OSError):
                continue  # vanished or damaged since the scan: the next scan flags it
        if images:
            vectors.store(lib, encoder.source, zip(batch, encoder.unit_images(images), strict=True))
        done += len(batch)
        reporter.step(len(todo[i : i + batch_size]))
    return done
