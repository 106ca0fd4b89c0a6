"""A zoomable, pannable image view (QGraphicsView) whose zoom and scroll can be linked to others.

Used by the photo viewer and by the edit canvas' side-by-side mode, where two views share one
``ViewSync`` so that zooming or panning one moves the other the same way.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView


class ZoomView(QGraphicsView):
    viewChanged = Signal()  # zoom or scroll changed by the user

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self._overlay = QGraphicsPixmapItem()
        self._overlay.setZValue(1)
        self._scene.addItem(self._overlay)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)
        self._fit = True
        self.horizontalScrollBar().valueChanged.connect(self._emit_changed)
        self.verticalScrollBar().valueChanged.connect(self._emit_changed)

    def set_image(self, image: QImage | QPixmap | None) -> None:
        pm = QPixmap.fromImage(image) if isinstance(image, QImage) else (image or QPixmap())
        self._item.setPixmap(pm)
        self._scene.setSceneRect(QRectF(pm.rect()))
        if self._fit:
            self.fit()

    def set_overlay(self, image: QImage | None, opacity: float = 0.5) -> None:
        """Draw ``image`` (scaled to the photo) over it with ``opacity``; None hides the overlay."""
        if image is None or image.isNull():
            self._overlay.setVisible(False)
            return
        pm = QPixmap.fromImage(image)
        base = self._item.pixmap()
        if not base.isNull() and pm.size() != base.size():
            pm = pm.scaled(
                base.size(), Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation
            )
        self._overlay.setPixmap(pm)
        self._overlay.setOpacity(max(0.0, min(1.0, opacity)))
        self._overlay.setVisible(True)

    def overlay_visible(self) -> bool:
        return self._overlay.isVisible() and not self._overlay.pixmap().isNull()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    def fit(self) -> None:
        self._fit = True
        if self.has_image():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.viewChanged.emit()

    def zoom_by(self, factor: float) -> None:
        self._fit = False
        self.scale(factor, factor)
        self.viewChanged.emit()

    def zoom(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.angleDelta().y():
            self.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)
        event.accept()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def _emit_changed(self, _value: int) -> None:
        self.viewChanged.emit()


class ViewSync(QObject):
    """Keeps the transform and scroll position of several ``ZoomView``s equal."""

    def __init__(self, views: list[ZoomView], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.views = views
        self._busy = False
        for v in views:
            v.viewChanged.connect(self._on_changed)

    def _on_changed(self) -> None:
        src = self.sender()
        if self._busy or not isinstance(src, ZoomView):
            return
        self._busy = True
        try:
            for v in self.views:
                if v is src:
                    continue
                v._fit = src._fit
                v.setTransform(src.transform())
                v.horizontalScrollBar().setValue(src.horizontalScrollBar().value())
                v.verticalScrollBar().setValue(src.verticalScrollBar().value())
        finally:
            self._busy = False
