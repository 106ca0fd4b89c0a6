"""Thumbnails loaded off the GUI thread, most recently requested first, with an in-memory LRU.

The grid's model asks :meth:`ThumbnailLoader.get` from ``data()``: a cached ``QImage`` comes back at
once; otherwise the photo is queued and ``None`` is returned (the delegate paints a placeholder).
Worker threads ask the engine for the thumbnail file (``Library.thumbnails.get`` renders it from the
original when missing), read it into a ``QImage`` (safe outside the GUI thread) and emit ``loaded``.
The queue is a bounded LIFO: while the user scrolls fast, the rows they scrolled past are dropped, and a
tile requested again (back on screen) moves to the front.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

PathFor = Callable[[Any], Path]  # photo -> thumbnail file (runs on a worker thread)


class _Signals(QObject):
    loaded = Signal(int, QImage)  # photo id, image
    failed = Signal(int, str)


class _Drain(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        self.loader._drain()


class ThumbnailLoader(QObject):
    loaded = Signal(int)  # photo id whose image is now in the cache
    failed = Signal(int, str)

    def __init__(
        self,
        path_for: PathFor,
        size: int = 160,
        *,
        threads: int = 2,
        cache_items: int = 800,
        max_pending: int = 400,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._path_for = path_for
        self.size = size
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._cache_items = cache_items
        self._failed: dict[int, str] = {}
        # requests, oldest first; a tile requested again moves to the newest end (it is on screen now)
        self._pending: OrderedDict[int, Any] = OrderedDict()
        self._inflight: set[int] = set()
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._active = 0
        self._threads = threads
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._closed = False
        self._signals = _Signals()
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)
        self.decoded = 0  # images decoded by the workers (tests and benchmarks read it)

    # --- GUI thread -------------------------------------------------------------------------------

    def get(self, photo_id: int, photo: Any) -> QImage | None:
        """The cached thumbnail, or None after queueing it (never decodes on the caller's thread)."""
        img = self._cache.get(photo_id)
        if img is not None:
            self._cache.move_to_end(photo_id)
            return img
        if photo_id in self._failed or self._closed:
            return None
        with self._lock:
            if photo_id in self._inflight:
                return None
            if photo_id in self._pending:
                self._pending.move_to_end(photo_id)
            else:
                self._pending[photo_id] = photo
                while len(self._pending) > self._max_pending:
                    self._pending.popitem(last=False)  # scrolled past long ago
            start = self._active < self._threads
            if start:
                self._active += 1
        if start:
            self._pool.start(_Drain(self))
        return None

    def error_for(self, photo_id: int) -> str | None:
        return self._failed.get(photo_id)

    def set_size(self, size: int) -> None:
        if size != self.size:
            self.size = size
            self.clear()

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._inflight.clear()
        self._cache.clear()
        self._failed.clear()

    def close(self, timeout_ms: int = 5000) -> None:
        self._closed = True
        with self._lock:
            self._pending.clear()
            self._inflight.clear()
        self._pool.waitForDone(timeout_ms)

    def wait_idle(self, timeout_ms: int = 5000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def _on_loaded(self, photo_id: int, img: QImage) -> None:
        with self._lock:
            self._inflight.discard(photo_id)
        self._cache[photo_id] = img
        self._cache.move_to_end(photo_id)
        while len(self._cache) > self._cache_items:
            self._cache.popitem(last=False)
        self.loaded.emit(photo_id)

    def _on_failed(self, photo_id: int, message: str) -> None:
        with self._lock:
            self._inflight.discard(photo_id)
        self._failed[photo_id] = message
        self.failed.emit(photo_id, message)

    # --- worker threads ---------------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending or self._closed:
                    self._active -= 1
                    return
                photo_id, photo = self._pending.popitem(last=True)  # newest request first
                self._inflight.add(photo_id)
            try:
                path = self._path_for(photo)
                img = QImage(str(path))
                if img.isNull():
                    raise OSError(f"thumbnail {path} could not be read")
                if max(img.width(), img.height()) > self.size:
                    img = img.scaled(
                        QSize(self.size, self.size),
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                self.decoded += 1
                self._signals.loaded.emit(photo_id, img)
            except Exception as exc:  # noqa: BLE001 - a broken photo shows an error tile, not a crash
                log.info("thumbnail for photo %s failed: %s", photo_id, exc)
                self._signals.failed.emit(
                    photo_id, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                )
