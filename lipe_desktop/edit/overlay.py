"""Turn the engine's masks (float arrays in [0, 1]) and PIL images into QImages for display.

A mask is drawn as an outline plus a translucent fill where it is on; where it is zero the overlay is
fully transparent, so the photo stays visible around (and, faintly, under) the subject. The mask is
resized to the photo's display size first (smoothly, then cut at 0.5) so the outline follows the
subject instead of the attention grid's cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtGui import QColor, QImage

SOURCE_COLOR = QColor(40, 140, 255)  # where the subject is now (M^s)
TARGET_COLOR = QColor(255, 150, 30)  # where the edited subject is (M^e_t)
UNION_COLOR = QColor(255, 70, 110)  # where the edit may change the photo (M_t = M^s U M^e_t)
MAX_SIDE = 768  # overlays are drawn at most this large (then scaled with the photo)


def pil_to_qimage(img: Any) -> QImage:
    """A copy of a PIL image as an RGBA QImage (owns its pixels)."""
    rgba = img.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


def _resized(mask: Any, size: tuple[int, int] | None) -> Any:
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        m = m.reshape(m.shape[-2], m.shape[-1])
    m = np.clip(np.nan_to_num(m), 0.0, 1.0)
    if size is None or size == (m.shape[1], m.shape[0]):
        return m
    w, h = size
    s = min(1.0, MAX_SIDE / max(w, h))
    w, h = max(1, round(w * s)), max(1, round(h * s))
    img = Image.fromarray(m, mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def _outline(on: Any, width: int) -> Any:
    """Pixels of ``on`` within ``width`` pixels of its edge (a border drawn inside the region)."""
    inner = on.copy()
    for _ in range(width):
        p = np.pad(inner, 1, constant_values=False)
        inner = inner & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return on & ~inner


def mask_to_qimage(mask: Any, color: QColor, fill: float = 0.35, size: tuple[int, int] | None = None) -> QImage:
    """An ARGB overlay of ``mask`` (2-D floats in [0, 1]): ``color`` at alpha ``fill`` x mask where it is
    on, an opaque outline at its edge, alpha 0 where the mask is 0. ``size`` (w, h): draw it at the
    photo's size (capped at ``MAX_SIDE``) for a smooth outline; None keeps the mask's own grid."""
    m = _resized(mask, size)
    h, w = m.shape
    on = m >= 0.5
    alpha = np.where(m > 0, m * (255.0 * max(0.0, min(1.0, fill))), 0.0)
    line = _outline(on, max(1, round(max(h, w) / 250))) if max(h, w) >= 32 else np.zeros_like(on)
    alpha[line] = 255.0
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = color.red(), color.green(), color.blue()
    rgba[..., 3] = np.round(alpha).astype(np.uint8)
    # the outline a little lighter than the fill, so it reads on a dark subject too
    light = np.array([min(255, c + 60) for c in (color.red(), color.green(), color.blue())], np.uint8)
    rgba[line, :3] = light
    data = np.ascontiguousarray(rgba).tobytes()
    return QImage(data, w, h, w * 4, QImage.Format.Format_RGBA8888).copy()
