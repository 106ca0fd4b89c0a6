"""Before/after views: a draggable split slider, and side by side with synchronized zoom/pan."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QWidget

from ..zoom_view import ViewSync, ZoomView


class CompareSlider(QWidget):
    """Draws "before" left of the split and "after" right of it; drag anywhere to move the split."""

    splitChanged = Signal(float)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.overlay: QImage | None = None
        self.overlay_opacity = 0.5
        self._split = 0.5
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.SplitHCursor)

    def set_images(self, before: QImage | None, after: QImage | None) -> None:
        self.before, self.after = before, after
        self.update()

    def set_overlay(self, overlay: QImage | None, opacity: float) -> None:
        self.overlay, self.overlay_opacity = overlay, max(0.0, min(1.0, opacity))
        self.update()

    def split(self) -> float:
        return self._split

    def set_split(self, value: float) -> None:
        value = max(0.0, min(1.0, float(value)))
        if value != self._split:
            self._split = value
            self.splitChanged.emit(value)
            self.update()

    def image_rect(self) -> QRectF:
        """Where the images are drawn: fitted into the widget, aspect kept."""
        ref = self.before or self.after
        if ref is None or ref.isNull():
            return QRectF(self.rect())
        w, h = self.width(), self.height()
        s = min(w / ref.width(), h / ref.height())
        dw, dh = ref.width() * s, ref.height() * s
        return QRectF((w - dw) / 2, (h - dh) / 2, dw, dh)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        r = self.image_rect()
        x = r.left() + r.width() * self._split
        if self.before is not None:
            p.drawImage(r, self.before)
        if self.after is not None:
            p.save()
            p.setClipRect(QRectF(x, r.top(), r.right() - x, r.height()))
            p.drawImage(r, self.after)
            p.restore()
        if self.overlay is not None and self.overlay_opacity > 0:
            p.setOpacity(self.overlay_opacity)
            p.drawImage(r, self.overlay)
            p.setOpacity(1.0)
        if self.after is not None:
            p.setPen(QPen(QColor("white"), 2))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setBrush(QColor("white"))
            p.drawEllipse(QPointF(x, r.center().y()), 7, 7)
            p.setPen(QColor("white"))
            p.drawText(QRectF(r.left() + 6, r.top() + 4, 80, 20), "Before")
            p.drawText(QRectF(r.right() - 86, r.top() + 4, 80, 20), Qt.AlignmentFlag.AlignRight, "After")
        p.end()

    def _drag(self, event: QMouseEvent) -> None:
        r = self.image_rect()
        if r.width() > 0:
            self.set_split((event.position().x() - r.left()) / r.width())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._drag(event)


class SideBySide(QWidget):
    """Two zoom views; zooming or panning one does the same to the other."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.left = ZoomView(self)
        self.right = ZoomView(self)
        self.sync = ViewSync([self.left, self.right], self)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.left)
        lay.addWidget(self.right)

    def set_images(self, before: QImage | None, after: QImage | None) -> None:
        self.left.set_image(before)
        self.right.set_image(after)

    def set_overlay(self, overlay: QImage | None, opacity: float) -> None:
        self.left.set_overlay(overlay, opacity)
        self.right.set_overlay(overlay, opacity)
