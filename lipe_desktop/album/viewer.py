"""The photo viewer: one photo at full resolution (read off the GUI thread), zoom, next/previous."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..zoom_view import ZoomView


class _Loaded(QObject):
    done = Signal(str, QImage, str)  # path, image, error


class _Read(QRunnable):
    def __init__(self, path: Path, sig: _Loaded) -> None:
        super().__init__()
        self.path, self.sig = path, sig

    def run(self) -> None:
        reader = QImageReader(str(self.path))
        reader.setAutoTransform(True)  # EXIF orientation
        img = reader.read()
        self.sig.done.emit(str(self.path), img, "" if not img.isNull() else reader.errorString())


def read_image_async(path: Path, sig: _Loaded, pool: QThreadPool | None = None) -> None:
    (pool or QThreadPool.globalInstance()).start(_Read(path, sig))


class PhotoViewer(QWidget):
    """Shows ``photos[index]``; emits ``closed`` on Escape / Back, ``editRequested(photo)``."""

    closed = Signal()
    editRequested = Signal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.view = ZoomView(self)
        self.caption = QLabel(self)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        back = QPushButton("Back to grid", self)
        prev_b, next_b = QPushButton("◀", self), QPushButton("▶", self)
        fit = QPushButton("Fit", self)
        edit = QPushButton("Edit pose…", self)
        back.clicked.connect(self.closed.emit)
        prev_b.clicked.connect(lambda: self.step(-1))
        next_b.clicked.connect(lambda: self.step(1))
        fit.clicked.connect(self.view.fit)
        edit.clicked.connect(self._request_edit)
        bar = QHBoxLayout()
        for w in (back, prev_b, next_b, fit, edit):
            bar.addWidget(w)
        bar.addWidget(self.caption, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        for key, slot in (
            (Qt.Key.Key_Escape, self.closed.emit),
            (Qt.Key.Key_Left, lambda: self.step(-1)),
            (Qt.Key.Key_Right, lambda: self.step(1)),
        ):
            QShortcut(QKeySequence(key), self).activated.connect(slot)
        self._photos: list[Any] = []
        self._index = -1
        self._sig = _Loaded(self)
        self._sig.done.connect(self._on_loaded)
        self.loaded_path: str | None = None

    def _request_edit(self) -> None:
        if self.photo is not None:
            self.editRequested.emit(self.photo)

    @property
    def photo(self) -> Any:
        return self._photos[self._index] if 0 <= self._index < len(self._photos) else None

    def show_photos(self, photos: list[Any], index: int) -> None:
        self._photos, self._index = photos, index
        self._load()

    def step(self, delta: int) -> None:
        if self._photos:
            self._index = max(0, min(len(self._photos) - 1, self._index + delta))
            self._load()

    def _load(self) -> None:
        p = self.photo
        if p is None:
            return
        self.caption.setText(f"{p.path.name} — loading…")
        self.view.set_image(None)
        read_image_async(Path(p.path), self._sig)

    def _on_loaded(self, path: str, img: QImage, error: str) -> None:
        p = self.photo
        if p is None or str(p.path) != path:
            return  # the user moved on
        self.loaded_path = path
        if img.isNull():
            self.caption.setText(f"{p.path.name}: cannot be shown ({error}).")
            return
        self.view.fit()
        self.view.set_image(img)
        info = f"{p.path.name} — {img.width()}×{img.height()}"
        if getattr(p, "taken_at", None):
            info += f" — taken {p.taken_at}"
        self.caption.setText(info)
