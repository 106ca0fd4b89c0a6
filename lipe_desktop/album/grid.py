"""The virtualized thumbnail grid: ``PhotoListModel`` + ``PhotoDelegate`` + ``PhotoGrid`` (QListView).

The model holds lightweight photo records only; ``data()`` never touches image files: it asks the
:class:`ThumbnailLoader` cache and the delegate paints a placeholder until the image arrives. The
view uses uniform item sizes and batched layout so 10,000 rows scroll smoothly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QColor, QContextMenuEvent, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .thumbnails import ThumbnailLoader

PhotoRole = Qt.ItemDataRole.UserRole + 1  # the photo record
ImageRole = Qt.ItemDataRole.UserRole + 2  # QImage | None (None: not loaded yet)
BadgeRole = Qt.ItemDataRole.UserRole + 3  # short text badge ("ref", "target", "edit")
ErrorRole = Qt.ItemDataRole.UserRole + 4  # why the thumbnail could not be loaded
_AnyIndex = QModelIndex | QPersistentModelIndex
MIME_IDS = "application/x-lipe-photo-ids"  # photo ids dragged out of a grid


def dropped_photo_refs(mime: Any) -> list[int | str]:
    """What a drop carries: photo ids dragged from a grid, else the local files dragged from a file
    manager (as paths; the library says in one line when one of them is not in it)."""
    if mime.hasFormat(MIME_IDS):
        raw = bytes(mime.data(MIME_IDS).data()).decode()
        return [int(x) for x in raw.split(",") if x.strip().isdigit() and int(x) > 0]
    if mime.hasUrls():
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
    return []


def accepts_photos(mime: Any) -> bool:
    return bool(mime.hasFormat(MIME_IDS) or mime.hasUrls())


class IdentityDropTarget:
    """Drag-and-drop of photos onto the identity under the cursor, for an item view that defines
    ``identity_at(pos) -> int | None`` and a ``photosDropped(int, list)`` signal (mix in first)."""

    def dragEnterEvent(self, event: Any) -> None:
        if accepts_photos(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        at = self.identity_at(event.position().toPoint())  # type: ignore[attr-defined]
        if accepts_photos(event.mimeData()) and at is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:
        iid = self.identity_at(event.position().toPoint())  # type: ignore[attr-defined]
        refs = dropped_photo_refs(event.mimeData())
        if iid is None or not refs:
            event.ignore()
            return
        event.acceptProposedAction()
        self.photosDropped.emit(iid, refs)  # type: ignore[attr-defined]


def tile_name(path: Any) -> str:
    """A tile's label: the file name with its folder ("dog6/00.jpg"), since cameras and datasets
    repeat names like 00.jpg in every folder (elided in the middle when long)."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def fit_tile_name(name: str, metrics: Any, width: int) -> str:
    """The tile label cut to ``width``: the folder gives way first ("data1-to…/toy_005.png"), since
    eliding the middle of "data1-toy-photos/toy_005.png" cut the file name the user looks for."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    folder, slash, file = name.rpartition("/")
    room = width - metrics.horizontalAdvance(slash + file)
    if folder and room >= metrics.horizontalAdvance("…") * 2:
        return metrics.elidedText(folder, Qt.TextElideMode.ElideRight, room) + slash + file
    return str(metrics.elidedText(file, Qt.TextElideMode.ElideMiddle, width))


class PhotoListModel(QAbstractListModel):
    """Rows are photo records (anything with ``id`` and ``path``); the filter keeps the photos whose
    path, date taken and badge contain every typed word."""

    def __init__(self, loader: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self._all: list[Any] = []
        self._text: list[str] = []
        self._rows: list[Any] = []
        self._row_of: dict[int, int] = {}
        self._badges: dict[int, str] = {}
        self._filter = ""
        loader.loaded.connect(self._on_thumb)
        loader.failed.connect(self._on_thumb_failed)

    # --- contents ---------------------------------------------------------------------------------

    def set_photos(self, photos: Sequence[Any], badges: dict[int, str] | None = None) -> None:
        self.beginResetModel()
        self._all = list(photos)
        self._text = []
        self._badges = dict(badges or {})
        self._apply_filter()
        self.endResetModel()

    def set_filter(self, text: str) -> None:
        text = text.strip().lower()
        if text == self._filter:
            return
        self.beginResetModel()
        self._filter = text
        self._apply_filter()
        self.endResetModel()

    def _apply_filter(self) -> None:
        if self._filter:
            if len(self._text) != len(self._all):  # searchable text, built once per photo list
                self._text = [
                    f"{p.path} {getattr(p, 'taken_at', '') or ''} {self._badges.get(p.id, '')}".lower()
                    for p in self._all
                ]
            words = self._filter.split()
            self._rows = [p for p, t in zip(self._all, self._text, strict=True) if all(w in t for w in words)]
        else:
            self._rows = list(self._all)
        self._row_of = {p.id: i for i, p in enumerate(self._rows)}

    def photo(self, row: int) -> Any:
        return self._rows[row]

    def photos(self) -> list[Any]:
        return list(self._rows)

    def total(self) -> int:
        return len(self._all)

    # --- Qt model API -----------------------------------------------------------------------------

    def rowCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        p = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return tile_name(p.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"{p.width}x{p.height}" if getattr(p, "width", None) else ""
            return f"{p.path}\n{size}  {getattr(p, 'taken_at', '') or ''}".strip()
        if role == ImageRole:
            return self.loader.get(p.id, p)
        if role == PhotoRole:
            return p
        if role == BadgeRole:
            return self._badges.get(p.id)
        if role == ErrorRole:
            return self.loader.error_for(p.id)
        return None

    def flags(self, index: _AnyIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> Any:
        md = QMimeData()
        md.setUrls([QUrl.fromLocalFile(str(self._rows[i.row()].path)) for i in indexes if i.isValid()])
        md.setData(MIME_IDS, ",".join(str(self._rows[i.row()].id) for i in indexes if i.isValid()).encode())
        return md

    def tile(self, row: int) -> tuple[str, QImage | None, str | None, str | None]:
        """What the delegate paints for ``row``: name, image (None: loading), badge, error.

        The delegate calls this instead of ``index.data(role)`` four times per tile: one Python call
        instead of four trips through Qt's variants (and no empty values read back through Qt, which
        leak references to None in PySide6 6.12 on Python 3.11: see :mod:`lipe_desktop.qtfix`).
        """
        p = self._rows[row]
        return tile_name(p.path), self.loader.get(p.id, p), self._badges.get(p.id), self.loader.error_for(p.id)

    def _on_thumb(self, photo_id: int) -> None:
        row = self._row_of.get(photo_id)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [ImageRole])

    def _on_thumb_failed(self, photo_id: int, _msg: str) -> None:
        self._on_thumb(photo_id)


class PhotoDelegate(QStyledItemDelegate):
    """Paints a tile: the thumbnail (or a placeholder), the file name, an optional badge."""

    LABEL_H = 18

    def __init__(self, tile: int = 160, parent: Any = None) -> None:
        super().__init__(parent)
        self.tile = tile

    def sizeHint(self, option: QStyleOptionViewItem, index: _AnyIndex) -> QSize:
        return QSize(self.tile + 12, self.tile + self.LABEL_H + 12)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _AnyIndex) -> None:
        painter.save()
        r: QRect = option.rect.adjusted(4, 4, -4, -4)  # type: ignore[attr-defined]
        pal: QPalette = option.palette  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        if selected:
            painter.fillRect(option.rect, pal.highlight())  # type: ignore[attr-defined]
        box = QRect(r.x(), r.y(), r.width(), r.height() - self.LABEL_H)
        model = index.model()
        if isinstance(model, PhotoListModel) and 0 <= index.row() < model.rowCount():
            name, img, badge, error = model.tile(index.row())
        else:  # another model: its own roles (never reached by the album's views)
            name, img = str(index.data()), index.data(ImageRole)
            badge, error = index.data(BadgeRole), index.data(ErrorRole)
        if img is not None and not img.isNull():
            scaled = (
                img
                if max(img.width(), img.height()) <= self.tile
                else img.scaled(
                    box.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
                )
            )
            x = box.x() + (box.width() - scaled.width()) // 2
            y = box.y() + (box.height() - scaled.height()) // 2
            painter.drawImage(x, y, scaled)
        else:
            painter.fillRect(
                box, QColor(60, 60, 64) if pal.window().color().lightness() < 128 else QColor(225, 225, 230)
            )
            painter.setPen(QPen(pal.placeholderText().color()))
            text = "unreadable" if error else "…"
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        if badge:
            fm = painter.fontMetrics()
            b = QRect(box.x() + 4, box.y() + 4, fm.horizontalAdvance(badge) + 10, fm.height() + 2)
            painter.fillRect(b, QColor(30, 110, 200, 220))
            painter.setPen(QColor("white"))
            painter.drawText(b, Qt.AlignmentFlag.AlignCenter, badge)
        painter.setPen(pal.highlightedText().color() if selected else pal.text().color())
        name = fit_tile_name(name, painter.fontMetrics(), r.width())
        painter.drawText(
            QRect(r.x(), r.bottom() - self.LABEL_H, r.width(), self.LABEL_H),
            Qt.AlignmentFlag.AlignCenter,
            name,
        )
        painter.restore()


class PhotoGrid(QListView):
    """Icon-mode list of tiles; emits ``contextRequested(photos, global_pos)`` on right-click."""

    contextRequested = Signal(list, object)
    activatedPhoto = Signal(object)

    def __init__(self, model: PhotoListModel, tile: int = 160, parent: Any = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegate(PhotoDelegate(tile, self))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setSpacing(2)
        self.activated.connect(self._on_activated)

    def photo_model(self) -> PhotoListModel:
        m = self.model()
        assert isinstance(m, PhotoListModel)
        return m

    def selected_photos(self) -> list[Any]:
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        return [self.photo_model().photo(r) for r in rows]

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        idx = self.indexAt(event.pos())
        if idx.isValid() and not self.selectionModel().isSelected(idx):
            self.setCurrentIndex(idx)
        photos = self.selected_photos()
        if photos:
            self.contextRequested.emit(photos, event.globalPos())

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.activatedPhoto.emit(self.photo_model().photo(index.row()))
