"""Read what a generated toy-world picture shows, with no known background: kind, pose, facing and
colour family (the words of its prompt), for judging text-to-image samples.

An edit is judged against the photo it started from (:mod:`.checks`, the judge); a sample drawn from
a prompt has no such photo. The world's backgrounds are horizontal bands with mild texture (sky, sea,
sand, grass, wall, floor), so each row's median colour is a fair estimate of the background where the
subject covers less than half the row; the subject is what differs from it. Its silhouette is matched
(IoU, over every position and a few scales, by convolution) against the rendered silhouettes of every
kind, pose and facing; the colour family is the nearest family to the median colour under the best
template's body parts. A smear matches no silhouette well and reads as "unclear".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import shapes, sprites
from .checks import to_float
from .markings import COLOURS
from .world import FACINGS, SIZE, SUPERSAMPLE

UNCLEAR = "unclear"
MIN_IOU = 0.45  # below this best silhouette match the picture shows no clear subject
DIFF_THRESHOLD = 0.12  # like checks.drawn_sprite: what differs this much from the background is drawn
GREEN_MARGIN = 0.15
FACING_TIE = 0.08  # best matches of both facings this close: the eye or visor decides
SCALES = (12.5, 14.0, 15.5, 17.0)  # the world draws sprites at 12.5-17.5 px per unit


@dataclass(frozen=True)
class Reading:
    kind: str  # or UNCLEAR
    pose: str
    facing: str
    colour: str  # nearest colour family of the body
    iou: float  # silhouette match of the best (kind, pose, facing, scale, position)

    def matches(self, kind: str, pose: str, facing: str, colour: str) -> bool:
        return (self.kind, self.pose, self.facing, self.colour) == (kind, pose, facing, colour)


def majority_family(pixels: np.ndarray) -> str:
    """The colour family most of ``pixels`` ((n, 3) in [0, 1]) are nearest to: the body outvotes
    its stripes, spots and patches."""
    refs = np.array([COLOURS[n] for n in COLOURS], dtype=np.float32)
    nearest = ((pixels[:, None, :] - refs[None]) ** 2).sum(-1).argmin(1)
    return list(COLOURS)[int(np.bincount(nearest, minlength=len(refs)).argmax())]


def _eroded(mask: np.ndarray) -> np.ndarray:
    """The mask shrunk by one pixel (edge pixels mix the body with the background)."""
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return (-F.max_pool2d(-t, 3, stride=1, padding=1))[0, 0].numpy() > 0.5


def _window(layers: torch.Tensor, k: int, ay: int, ax: int) -> np.ndarray:
    """Template ``k``'s layer placed with its anchor at (ay, ax), as a (SIZE, SIZE) boolean mask."""
    return layers[k, 0, SIZE - ay:2 * SIZE - ay, SIZE - ax:2 * SIZE - ax].numpy() > 0.5


def _dark_contrast(img: np.ndarray, keys: list, bodies: torch.Tensor, darks: torch.Tensor, k: int,
                   pos: int) -> float:
    """Mean brightness under template ``k``'s dark parts minus under its body (lower: a better fit)."""
    ay, ax = divmod(pos, SIZE)
    lum = img.mean(axis=-1)
    dark, body = _window(darks, k, ay, ax), _window(bodies, k, ay, ax)
    if dark.sum() == 0 or body.sum() == 0:
        return 0.0
    return float(lum[dark].mean() - lum[body].mean())


def estimate_background(image: np.ndarray) -> np.ndarray:
    """(H, W, 3): each row's median colour, broadcast along the row."""
    return np.broadcast_to(np.median(image, axis=1, keepdims=True), image.shape)


@functools.lru_cache(maxsize=1)
def _templates() -> tuple[list[tuple[str, str, str, float]], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (kind, pose, facing, scale) silhouette and body layer, anchored at a fixed point of a
    (2 SIZE)^2 canvas so that convolving with the picture scans all positions."""
    keys, masks, bodies, darks = [], [], [], []
    side = 2 * SIZE
    ss = SUPERSAMPLE
    ys, xs = shapes.grid(side * ss, side * ss)
    for kind, poses in sprites.POSES.items():
        for pose in poses:
            for facing in FACINGS:
                for scale in SCALES:
                    layers = sprites.draw(ys, xs, kind, pose, SIZE * ss, SIZE * ss, scale * ss,
                                          1 if facing == "right" else -1)
                    keys.append((kind, pose, facing, scale))
                    masks.append(shapes.downsample(layers["mask"], ss) > 0.5)
                    bodies.append(shapes.downsample(layers["body"], ss) > 0.5)
                    darks.append(shapes.downsample(layers["dark"], ss) > 0.25)
    return keys, *(torch.from_numpy(np.stack(a)).float()[:, None] for a in (masks, bodies, darks))  # type: ignore[return-value]


def read_picture(image: Image.Image | np.ndarray) -> Reading:
    """What a 64x64 toy-world picture shows (kind, pose, facing, colour family), or UNCLEAR."""
    img = to_float(image)[..., :3]
    if img.shape[:2] != (SIZE, SIZE):
        raise ValueError(f"a {SIZE}x{SIZE} picture is needed, got {img.shape[:2]}")
    drawn = np.abs(img - estimate_background(img)).max(axis=-1) > DIFF_THRESHOLD
    # no colour family is green, every green pixel is grass or trees (a park's tree line covers about
    # half of its rows, where a row median cannot tell it from the sky)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    drawn &= ~((g > r + GREEN_MARGIN) & (g > b + GREEN_MARGIN))
    keys, masks, bodies, darks = _templates()
    d = torch.from_numpy(drawn.astype(np.float32))[None, None]
    # Scan every anchor (ground point) position (ay, ax) of the picture: cross-correlate the picture
    # with each template cropped to where sprites reach around their anchor (UP px above, DOWN below,
    # SIDE either side); the padding makes output[i, j] the overlap with the anchor at (i, j).
    up, down, side = 40, 4, 28
    kernels = masks[:, :, SIZE - up:SIZE + down, SIZE - side:SIZE + side]
    padded = F.pad(d, (side, side - 1, up, down - 1))
    inter = F.conv2d(padded, kernels)[0]
    area_t = masks.sum(dim=(1, 2, 3))[:, None, None]
    # the union counts drawn pixels only within the template's reach around the anchor, so that
    # texture the row medians miss elsewhere (a tree line) does not sink every match
    local = F.conv2d(padded, torch.ones(1, 1, up + down, 2 * side))[0]
    iou = inter / (area_t + local - inter).clamp(min=1.0)
    flat = iou.flatten(1).max(dim=1)
    k = int(flat.values.argmax())
    kind, pose, facing, _ = keys[k]
    # Facing: a standing robot is nearly mirror-symmetric, its visor (and any sprite's eye) says where
    # it looks. When the best match of the other facing is about as good, the facing whose dark
    # parts (eye, visor) lie on darker pixels than its body wins.
    mirror = max((i for i, key in enumerate(keys) if key[:2] == (kind, pose) and key[2] != facing),
                 key=lambda i: float(flat.values[i]))
    if float(flat.values[mirror]) > float(flat.values[k]) - FACING_TIE:
        contrast = {i: _dark_contrast(img, keys, bodies, darks, i, int(flat.indices[i])) for i in (k, mirror)}
        if contrast[mirror] < contrast[k]:
            k = mirror
            kind, pose, facing, _ = keys[k]
    score = float(flat.values[k])
    ay, ax = divmod(int(flat.indices[k]), SIZE)
    body = _window(bodies, k, ay, ax)
    inner = body & drawn & _eroded(body)
    pixels = img[inner] if inner.sum() >= 4 else img[drawn] if drawn.sum() >= 4 else img.reshape(-1, 3)
    colour = majority_family(pixels)
    if score < MIN_IOU:
        return Reading(UNCLEAR, UNCLEAR, UNCLEAR, colour, score)
    return Reading(kind, pose, facing, colour, score)
