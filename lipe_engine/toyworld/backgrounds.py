"""Procedural textured backgrounds for the toy world, one per caption setting.

Textures are smooth value noise plus soft structure (grass streaks, sand ripples, wallpaper
stripes, floor planks, sea and sky bands), deterministic from a seed. Each function returns an
(h, w, 3) float32 image in [0, 1] and the y of its horizon (where sprites may stand below).
"""

from __future__ import annotations

import numpy as np

SETTINGS: tuple[str, ...] = ("on green grass", "on yellow sand", "in a room", "on the beach", "in a park")


def value_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Bilinearly interpolated random lattice, values in [-1, 1], (h, w) float32."""
    gh, gw = h // cell + 2, w // cell + 2
    lattice = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    ys = (np.arange(h, dtype=np.float32) + 0.5) / cell
    xs = (np.arange(w, dtype=np.float32) + 0.5) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a = lattice[y0][:, x0]
    b = lattice[y0][:, x0 + 1]
    c = lattice[y0 + 1][:, x0]
    d = lattice[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _tint(base: tuple[float, float, float], rng: np.random.Generator, amount: float = 0.08) -> np.ndarray:
    return np.clip(np.array(base, dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 1)


def _fill(h: int, w: int, colour: np.ndarray) -> np.ndarray:
    return np.broadcast_to(colour, (h, w, 3)).astype(np.float32).copy()


def _grass(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int]:
    img = _fill(h, w, _tint((0.25, 0.55, 0.2), rng))
    n = value_noise(rng, h, w, 8) * 0.08 + value_noise(rng, h, w, 3) * 0.03
    xs = np.arange(w, dtype=np.float32)
    streak = 0.03 * np.sin(xs * rng.uniform(1.2, 1.8) + rng.uniform(0, 6))[None, :]
    return img + (n + streak)[..., None] * np.array([0.6, 1.0, 0.5], dtype=np.float32), 0


def _sand(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int]:
    img = _fill(h, w, _tint((0.85, 0.75, 0.45), rng))
    ys = np.arange(h, dtype=np.float32)[:, None]
    ripple = 0.04 * np.sin(ys * rng.uniform(0.5, 0.8) + value_noise(rng, h, w, 16) * 2.0)
    n = value_noise(rng, h, w, 6) * 0.05
    return img + (ripple + n)[..., None], 0


def _room(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int]:
    horizon = int(rng.integers(h * 3 // 8, h // 2 + 2))
    walls = [(0.8, 0.8, 0.75), (0.55, 0.65, 0.85), (0.85, 0.7, 0.6), (0.7, 0.8, 0.65)]
    wall = _tint(walls[int(rng.integers(len(walls)))], rng, 0.05)
    img = _fill(h, w, wall)
    xs = np.arange(w, dtype=np.float32)[None, :]
    period = float(rng.uniform(5, 9))
    img[:horizon] += (0.05 * np.sign(np.sin(xs * 2 * np.pi / period)))[..., None]
    floor = _tint((0.5, 0.33, 0.2), rng, 0.06)
    ys = np.arange(h, dtype=np.float32)[:, None]
    planks = 0.04 * np.sin(ys * rng.uniform(0.9, 1.3)) + value_noise(rng, h, w, 8) * 0.04
    img[horizon:] = floor + planks[horizon:, :, None]
    img[horizon : horizon + 1] *= 0.7
    return img, horizon


def _beach(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int]:
    horizon = int(rng.integers(h * 3 // 8, h // 2 + 2))
    sea_end = horizon + int(rng.integers(4, 9))
    ys = np.arange(h, dtype=np.float32)[:, None, None]
    sky = _tint((0.55, 0.75, 0.95), rng) + (ys / h) * 0.2
    img = np.broadcast_to(sky, (h, w, 3)).astype(np.float32).copy()
    img += value_noise(rng, h, w, 16)[..., None] * 0.04
    sea = _tint((0.15, 0.4, 0.7), rng, 0.05)
    img[horizon:sea_end] = sea + value_noise(rng, sea_end - horizon, w, 4)[..., None] * 0.05
    sand = _tint((0.88, 0.8, 0.55), rng, 0.05)
    img[sea_end:] = sand + value_noise(rng, h - sea_end, w, 6)[..., None] * 0.05
    return img, sea_end


def _park(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int]:
    horizon = int(rng.integers(h * 3 // 8, h // 2 + 2))
    sky = _tint((0.6, 0.8, 0.95), rng)
    img = _fill(h, w, sky) + value_noise(rng, h, w, 16)[..., None] * 0.04
    trees = value_noise(rng, h, w, 10)
    ys = np.arange(h, dtype=np.float32)[:, None]
    tree_line = (trees > 0.1) & (ys > horizon - 14) & (ys < horizon)
    img[tree_line] = _tint((0.15, 0.4, 0.15), rng, 0.04) + 0.05 * trees[tree_line][:, None]
    grass = _tint((0.35, 0.65, 0.25), rng, 0.05)
    img[horizon:] = grass + value_noise(rng, h - horizon, w, 5)[..., None] * 0.05
    return img, horizon


_MAKERS = {"on green grass": _grass, "on yellow sand": _sand, "in a room": _room, "on the beach": _beach,
           "in a park": _park}


def render_background(setting: str, seed: int, h: int = 64, w: int = 64) -> tuple[np.ndarray, int]:
    """(image (h, w, 3) float32 in [0, 1], horizon row). Deterministic for (setting, seed)."""
    if setting not in _MAKERS:
        raise ValueError(f"unknown setting {setting!r}")
    rng = np.random.default_rng(seed)
    img, horizon = _MAKERS[setting](rng, h, w)
    return np.clip(img, 0.0, 1.0), horizon
