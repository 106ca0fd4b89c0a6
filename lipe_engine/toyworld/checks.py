"""Ground-truth checks of an edit in the toy world: mask IoU, background PSNR, pose, identity.

The world knows every photo's background, sprite mask and individual, so an edit can be judged
without any learned metric: the sprite the model drew is whatever differs from the known
background; its pose is the (pose, facing) whose rendered silhouette matches it best (template
matching over small shifts); its identity is compared by colour histograms inside the silhouettes.

Mask IoU and background PSNR are right and stay in use. The pose template match (no floor: it names
the best template even for a smear) and the histogram identity (blur alone saturates it) no longer
decide whether an edit succeeded: :mod:`.judge` does; they remain as the baseline
``benchmarks/judge_accuracy.py`` compares the judge with.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .backgrounds import render_background
from .sprites import POSES
from .world import FACINGS, Scene, random_scene


def to_float(image: Image.Image | np.ndarray) -> np.ndarray:
    arr = np.asarray(image, dtype=np.float32)
    return arr / 255.0 if arr.max() > 1.5 else arr


def resize_mask(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Area-resample a (h, w) mask to hw (down) or bilinear (up)."""
    t = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    mode = "area" if hw[0] <= mask.shape[0] else "bilinear"
    return F.interpolate(t, size=hw, mode=mode).numpy()[0, 0]


def iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of two masks (resampled to a's size), each thresholded."""
    if a.shape != b.shape:
        b = resize_mask(b, a.shape)
    x, y = a > threshold, b > threshold
    union = (x | y).sum()
    return float((x & y).sum() / union) if union else 1.0


def masked_psnr(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray, keep: np.ndarray) -> float:
    """PSNR (dB, peak 1) over pixels where ``keep`` is true; 100 when identical, nan when none kept."""
    if not keep.any():
        return float("nan")
    x, y = to_float(a), to_float(b)
    err = ((x - y) ** 2)[keep].mean()
    return 100.0 if err <= 1e-10 else float(10 * np.log10(1.0 / err))


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.max_pool2d(t, 2 * px + 1, stride=1, padding=px).numpy()[0, 0] > 0.5


def drawn_sprite(image: Image.Image | np.ndarray, scene: Scene, threshold: float = 0.12) -> np.ndarray:
    """Boolean (H, W): pixels that differ from the scene's known background (what the model drew)."""
    bg, _ = render_background(scene.setting, scene.bg_seed)
    diff = np.abs(to_float(image) - bg).max(axis=-1)
    return diff > threshold


@dataclass(frozen=True)
class PoseGuess:
    pose: str
    facing: str
    score: float  # silhouette IoU of the best match
    scores: dict[tuple[str, str], float]


def classify_pose(image: Image.Image | np.ndarray, scene: Scene, max_shift: int = 4) -> PoseGuess:
    """Which (pose, facing) of the scene's individual the image shows, by silhouette matching."""
    drawn = drawn_sprite(image, scene)
    scores: dict[tuple[str, str], float] = {}
    for pose in POSES[scene.individual.kind]:
        for facing in FACINGS:
            _, mask = scene.with_pose(pose, facing).render_arrays()
            tmpl = mask > 0.5
            best = 0.0
            for dy in range(-max_shift, max_shift + 1, 2):
                for dx in range(-max_shift, max_shift + 1, 2):
                    shifted = np.roll(tmpl, (dy, dx), axis=(0, 1))
                    union = (shifted | drawn).sum()
                    best = max(best, float((shifted & drawn).sum() / union) if union else 0.0)
            scores[(pose, facing)] = best
    (pose, facing), score = max(scores.items(), key=lambda kv: kv[1])
    return PoseGuess(pose, facing, score, scores)


def colour_histogram(image: Image.Image | np.ndarray, mask: np.ndarray, bins: int = 6) -> np.ndarray:
    px = to_float(image)[mask]
    if len(px) == 0:
        return np.zeros(bins**3, np.float32)
    idx = np.minimum((px * bins).astype(int), bins - 1)
    flat = idx[:, 0] * bins * bins + idx[:, 1] * bins + idx[:, 2]
    hist = np.bincount(flat, minlength=bins**3).astype(np.float32)
    return hist / hist.sum()


def identity_distance(image: Image.Image | np.ndarray, scene: Scene, pose: str | None = None) -> float:
    """Colour/pattern distance (0 same .. 1 disjoint, half L1 of colour histograms) between the drawn
    sprite and the individual's true rendering in ``pose`` (default: the scene's)."""
    truth, mask = scene.with_pose(pose or scene.pose).render_arrays()
    drawn = drawn_sprite(image, scene)
    a = colour_histogram(image, drawn)
    b = colour_histogram(truth, mask > 0.5)
    return float(0.5 * np.abs(a - b).sum())


def best_fixed_box(masks: list[np.ndarray], step: int = 2) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the box with the highest mean IoU against ``masks`` (boolean, one size):
    the best guess of where a subject is that never looks at the photo."""
    stack = np.stack([np.asarray(m, bool) for m in masks]).astype(np.float64)
    n, h, w = stack.shape
    s = np.zeros((n, h + 1, w + 1))
    s[:, 1:, 1:] = stack.cumsum(1).cumsum(2)
    area = stack.sum((1, 2))
    xs = [(x0, x1) for x0 in range(0, w, step) for x1 in range(x0 + step, w + 1, step)]
    x0s = np.array([x[0] for x in xs])
    x1s = np.array([x[1] for x in xs])
    best, best_box = -1.0, (0, h, 0, w)
    for y0 in range(0, h, step):
        for y1 in range(y0 + step, h + 1, step):
            inter = s[:, y1][:, x1s] - s[:, y0][:, x1s] - s[:, y1][:, x0s] + s[:, y0][:, x0s]  # (n, boxes)
            box_area = (y1 - y0) * (x1s - x0s)
            mean_iou = (inter / (box_area[None, :] + area[:, None] - inter)).mean(0)
            k = int(mean_iou.argmax())
            if mean_iou[k] > best:
                best, best_box = float(mean_iou[k]), (y0, y1, int(x0s[k]), int(x1s[k]))
    return best_box


def box_mask(box: tuple[int, int, int, int], hw: tuple[int, int]) -> np.ndarray:
    y0, y1, x0, x1 = box
    m = np.zeros(hw, np.float32)
    m[y0:y1, x0:x1] = 1.0
    return m


@functools.lru_cache(maxsize=4)
def position_only_box(n: int = 200, seed: int = 424242) -> tuple[int, int, int, int]:
    """The best fixed box for sprites where this world places them (``n`` random scenes of every
    kind from ``seed``, none of them an edit case): the position-only baseline for mask IoU."""
    rng = np.random.default_rng(seed)
    return best_fixed_box([random_scene(rng).render_arrays()[1] > 0.5 for _ in range(n)])
