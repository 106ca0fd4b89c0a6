"""Thumbnails: cheap to make (JPEG draft decoding) and kept in a size-capped on-disk cache.

Decoding a 24-megapixel JPEG in full to show a 256-pixel tile wastes almost all of the work. JPEG
can decode straight to 1/2, 1/4 or 1/8 scale (DCT scaling); Pillow exposes it as ``Image.draft``.
``render_thumbnail`` asks for the smallest scale that is still at least the thumbnail size, then
resamples the rest of the way, so quality matches a full decode at a fraction of the cost
(``benchmarks/import_speed.py`` measures it). Other formats decode in full.

The cache is keyed by the file's content hash (identical photos share a thumbnail; a changed photo
gets a new one), written atomically (temp file + rename), and evicts the least recently used files
once it grows over ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from PIL import Image

from ..errors import InputError
from ..photo_reader import decode, open_unloaded
from .db import LibraryError
from .records import Photo

log = logging.getLogger(__name__)

THUMB_SIZE = 256
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


def render_thumbnail(img: Image.Image, size: int = THUMB_SIZE, name: str = "photo") -> Image.Image:
    """An upright RGB thumbnail (longer side ``size``) of an opened, not yet loaded image.

    Decoded by the one photo reader (``lipe_engine.photo_reader``: orientation, colour, alpha) with
    JPEG draft decoding; raises its one-line ``InputError`` for damaged data.
    """
    img = decode(img, "photo", name, draft=size)
    img.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
    return img


def render_thumbnail_full_decode(img: Image.Image, size: int = THUMB_SIZE) -> Image.Image:
    """The naive thumbnailer (full decode, then resize); kept for the benchmark's comparison."""
    img = decode(img, "photo")
    img.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
    return img


class ThumbnailCache:
    """``<dir>/<hash[:2]>/<hash>-<size>.jpg`` files with a total size cap (LRU eviction)."""

    def __init__(self, directory: Path, size: int = THUMB_SIZE, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.dir = Path(directory)
        self.size = int(size)
        self.max_bytes = int(max_bytes)
        self._total: int | None = None
        self._lock = threading.Lock()

    def path_for(self, content_hash: str) -> Path:
        return self.dir / content_hash[:2] / f"{content_hash}-{self.size}.jpg"

    def has(self, content_hash: str) -> bool:
        return self.path_for(content_hash).is_file()

    def store(self, content_hash: str, thumb: Image.Image) -> Path:
        """Write ``thumb`` atomically and enforce the size cap; returns its path."""
        dest = self.path_for(content_hash)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                thumb.save(fh, "JPEG", quality=85)
            old = dest.stat().st_size if dest.exists() else 0
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._account(dest.stat().st_size - old, keep=dest)
        return dest

    def get(self, photo: Photo) -> Path:
        """The thumbnail of ``photo``, re-rendered from the original (read only) if evicted."""
        dest = self.path_for(photo.content_hash)
        if dest.is_file():
            with contextlib.suppress(OSError):
                os.utime(dest)  # mark as recently used
            return dest
        if not os.path.lexists(photo.path):
            raise LibraryError(f"photo '{photo.path}' is missing on disk", "restore it or rescan the library")
        try:
            thumb = render_thumbnail(open_unloaded(photo.path, "photo"), self.size, str(photo.path))
        except InputError as exc:
            raise LibraryError(exc.what, "replace the file, then rescan the library") from exc
        return self.store(photo.content_hash, thumb)

    def total_bytes(self) -> int:
        with self._lock:
            if self._total is None:
                self._total = sum(f.stat().st_size for f in self._files())
            return self._total

    def _files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return [f for f in self.dir.glob("*/*.jpg") if f.is_file()]

    def _account(self, delta: int, keep: Path | None = None) -> None:
        total = self.total_bytes() + delta
        with self._lock:
            self._total = total
        if total > self.max_bytes:
            self.evict(int(self.max_bytes * 0.9), keep=keep)

    def evict(self, target_bytes: int, keep: Path | None = None) -> int:
        """Delete least recently used thumbnails until the cache is at most ``target_bytes``.

        ``keep`` (the thumbnail just handed out) is never deleted, even if it alone is over the cap.
        """
        with self._lock:
            entries = []
            for f in self._files():
                try:
                    st = f.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, f))
            entries.sort()
            total = sum(e[1] for e in entries)
            removed = 0
            for _mtime, size, f in entries:
                if total <= target_bytes:
                    break
                if keep is not None and f == keep:
                    continue
                f.unlink(missing_ok=True)
                total -= size
                removed += 1
            self._total = total
        if removed:
            log.info("thumbnail cache: evicted %d files to stay under %d bytes", removed, self.max_bytes)
        return removed
