"""Small Qt test images shared by the desktop tests."""

from __future__ import annotations


def solid_image(w: int, h: int, color: str):
    """A ``w`` x ``h`` QImage filled with one colour."""
    from PySide6.QtGui import QColor, QImage

    img = QImage(w, h, QImage.Format.Format_RGB32)
    img.fill(QColor(color))
    return img
