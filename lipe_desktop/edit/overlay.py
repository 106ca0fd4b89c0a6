"""Turn the engine's masks (float arrays in [0, 1]) and PIL images into QImages for display."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QImage

SOURCE_COLOR = QColor(40, 140, 255)  # where the subject is now (M^s)
TARGET_COLOR = QColor(255, 90, 40)  # where the edit is allowed to change (M_t)


def pil_to_qimage(img: Any) -> QImage:
    """A copy of a PIL image as an RGBA QImage (owns its pixels)."""
    rgba = img.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


def mask_to_qimage(mask: Any, color: QColor) -> QImage:
    """A colored overlay whose alpha is the mask (``mask``: 2-D array-like of floats in [0, 1])."""
    import numpy as np

    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        m = m.reshape(m.shape[-2], m.shape[-1])
    alpha = np.ascontiguousarray((np.clip(m, 0.0, 1.0) * 255).astype(np.uint8))
    h, w = alpha.shape
    a = QImage(alpha.tobytes(), w, h, w, QImage.Format.Format_Grayscale8).copy()
    out = QImage(w, h, QImage.Format.Format_ARGB32)
    out.fill(color)
    out.setAlphaChannel(a)
    return out
