"""Anti-aliasing-free primitive coverage masks on a pixel grid (the world supersamples instead).

Every function returns a float32 array in {0, 1} of shape (h, w) for one primitive, given pixel
coordinates; the sprite module composes them in painter's order.
"""

from __future__ import annotations

import numpy as np


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (ys, xs), each (h, w) float32."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return ys + 0.5, xs + 0.5


def ellipse(ys: np.ndarray, xs: np.ndarray, cy: float, cx: float, ry: float, rx: float,
            angle_deg: float = 0.0) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    dx, dy = xs - cx, ys - cy
    u = dx * np.cos(a) + dy * np.sin(a)
    v = -dx * np.sin(a) + dy * np.cos(a)
    return ((u / max(rx, 1e-3)) ** 2 + (v / max(ry, 1e-3)) ** 2 <= 1.0).astype(np.float32)


def capsule(ys: np.ndarray, xs: np.ndarray, y0: float, x0: float, y1: float, x1: float,
            radius: float) -> np.ndarray:
    """A thick line segment with round ends."""
    px, py = xs - x0, ys - y0
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.clip((px * dx + py * dy) / length2, 0.0, 1.0) if length2 > 1e-6 else np.zeros_like(px)
    ex, ey = px - t * dx, py - t * dy
    return (ex * ex + ey * ey <= radius * radius).astype(np.float32)


def rect(ys: np.ndarray, xs: np.ndarray, cy: float, cx: float, hy: float, hx: float) -> np.ndarray:
    return ((np.abs(ys - cy) <= hy) & (np.abs(xs - cx) <= hx)).astype(np.float32)


def triangle(ys: np.ndarray, xs: np.ndarray, pts: list[tuple[float, float]]) -> np.ndarray:
    """pts: three (y, x) corners."""
    (y0, x0), (y1, x1), (y2, x2) = pts

    def side(ya: float, xa: float, yb: float, xb: float) -> np.ndarray:
        return (xs - xb) * (ya - yb) - (xa - xb) * (ys - yb)

    d1, d2, d3 = side(y0, x0, y1, x1), side(y1, x1, y2, x2), side(y2, x2, y0, x0)
    neg = (d1 < 0) | (d2 < 0) | (d3 < 0)
    pos = (d1 > 0) | (d2 > 0) | (d3 > 0)
    return (~(neg & pos)).astype(np.float32)


def downsample(arr: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter an (H, W[, C]) array by an integer factor."""
    if factor == 1:
        return arr
    h, w = arr.shape[0] // factor, arr.shape[1] // factor
    shaped = arr[: h * factor, : w * factor].reshape(h, factor, w, factor, *arr.shape[2:])
    return shaped.mean(axis=(1, 3))
