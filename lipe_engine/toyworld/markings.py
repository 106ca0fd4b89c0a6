"""What makes one toy individual *this* individual, beyond what a caption can say (world v2).

A captioner names a pet "a brown dog"; the personal prior must supply the rest. Here the rest is:

- the body colour, drawn from a continuous range around its colour family (the caption names only
  the nearest family, so two "red dogs" differ in hue and brightness);
- a marking layout unique to the individual, drawn from its ``layout`` seed: 1-3 patches anchored
  to the torso or head (position on the part, size, aspect, each its own continuous colour), so
  they move with the part from pose to pose; an optional stripe or spot pattern with its own period,
  phase and colour; the accent (ears, beak, limbs) tinted off its family.

Everything is deterministic from the :class:`~lipe_engine.toyworld.world.Individual`'s fields.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import sprites

# Named colour families (what captions say) and their reference colours.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.15, 0.12), "blue": (0.15, 0.3, 0.85), "yellow": (0.95, 0.85, 0.15),
    "white": (0.95, 0.95, 0.95), "black": (0.12, 0.12, 0.14), "brown": (0.5, 0.3, 0.15),
    "orange": (0.95, 0.5, 0.1), "purple": (0.55, 0.2, 0.7), "grey": (0.55, 0.55, 0.58),
    "pink": (0.95, 0.55, 0.7),
}
_NAMES = tuple(COLOURS)
_REFS = np.array([COLOURS[n] for n in _NAMES], dtype=np.float32)
TINT_RANGE = 0.16  # per-channel offset a body colour may take from its family's reference colour
FAMILY_MARGIN = 0.5  # a body's squared distance to its family at most this fraction of the next one's


def nearest_family(rgb: np.ndarray | tuple[float, float, float]) -> str:
    """The colour family whose reference colour is nearest (RGB distance): what a caption calls it."""
    d = ((_REFS - np.asarray(rgb, dtype=np.float32)[None]) ** 2).sum(axis=1)
    return _NAMES[int(d.argmin())]


def clearly_nearest(rgb: np.ndarray, family: str) -> bool:
    """``rgb`` is nearer to ``family`` than to any other by a margin (squared distance at most
    FAMILY_MARGIN of the next): a captioner would not hesitate between two names."""
    d = ((_REFS - np.asarray(rgb, dtype=np.float32)[None]) ** 2).sum(axis=1)
    own = _NAMES.index(family)
    return bool(d[own] <= FAMILY_MARGIN * np.delete(d, own).min())


def draw_tint(rng: np.random.Generator, family: str, shade: float = 0.0) -> tuple[float, float, float]:
    """A continuous body-colour offset from ``family``'s reference that keeps the body (with its
    ``shade``) clearly nearest to ``family``."""
    base = np.array(COLOURS[family], dtype=np.float32) + shade
    for _ in range(200):
        tint = rng.uniform(-TINT_RANGE, TINT_RANGE, 3).astype(np.float32)
        if clearly_nearest(np.clip(base + tint, 0, 1), family):
            return (float(tint[0]), float(tint[1]), float(tint[2]))
    return (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Patch:
    """A marking on one body part: centre in the part's frame (-1..1 along its axes), radius in sprite
    units, aspect (v radius / u radius) and its colour."""

    anchor: str  # "torso" or "head"
    a: float
    b: float
    radius: float
    aspect: float
    rgb: tuple[float, float, float]


@dataclass(frozen=True)
class Layout:
    patches: tuple[Patch, ...]
    stripe_period: float  # sprite units
    stripe_phase: float
    stripe_angle: float  # radians, in the sprite's (u, v) frame
    spot_period: float
    pattern_rgb: tuple[float, float, float]
    accent_rgb: tuple[float, float, float]


def _jitter(rng: np.random.Generator, name: str, amount: float) -> tuple[float, float, float]:
    c = np.clip(np.array(COLOURS[name], dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 1)
    return (float(c[0]), float(c[1]), float(c[2]))


@functools.lru_cache(maxsize=512)
def layout(seed: int, body_family: str, pattern_family: str, accent_family: str) -> Layout:
    """The marking layout drawn from an individual's ``layout`` seed (patch colours avoid its body)."""
    rng = np.random.default_rng([seed, 7201])
    others = [n for n in _NAMES if n != body_family]
    patches = []
    for k in range(int(rng.integers(1, 4))):
        anchor = "head" if k == 2 or rng.random() < 0.25 else "torso"
        family = others[int(rng.integers(len(others)))]
        patches.append(Patch(
            anchor=anchor,
            a=float(rng.uniform(-0.6, 0.6)),
            b=float(rng.uniform(-0.5, 0.6)),
            radius=float(rng.uniform(0.1, 0.2) if anchor == "torso" else rng.uniform(0.12, 0.16)),
            aspect=float(rng.uniform(0.6, 1.5)),
            rgb=_jitter(rng, family, 0.12),
        ))
    return Layout(
        patches=tuple(patches),
        stripe_period=float(rng.uniform(0.26, 0.4)),
        stripe_phase=float(rng.uniform(0, 2 * np.pi)),
        stripe_angle=float(rng.uniform(-0.5, 0.5)),
        spot_period=float(rng.uniform(0.3, 0.42)),
        pattern_rgb=_jitter(rng, pattern_family, 0.1),
        accent_rgb=_jitter(rng, accent_family, 0.12),
    )


def _frame(kind: str, pose: str, anchor: str) -> tuple[float, float, float, float, float]:
    """(cu, cv, ru, rv, angle_deg) of the torso or head part of a pose, in sprite units."""
    index = sprites.ANCHOR_PARTS[kind][pose][0 if anchor == "torso" else 1]
    _, shape, p = sprites.parts(kind, pose)[index]
    if shape == "rect":  # (cu, cv, hu, hv)
        return p[0], p[1], p[2], p[3], 0.0
    return p[0], p[1], p[2], p[3], p[4]


def paint_body(body: np.ndarray, u: np.ndarray, v: np.ndarray, kind: str, pose: str, pattern: str,
               lay: Layout) -> None:
    """Paint the pattern and patches onto ``body`` ((H, W, 3), the body colour everywhere) in place,
    given each pixel's sprite coordinates (u towards the facing, v up)."""
    if pattern == "striped":
        ca, sa = np.cos(lay.stripe_angle), np.sin(lay.stripe_angle)
        along = u * ca + v * sa
        body[np.sin(along * 2 * np.pi / lay.stripe_period + lay.stripe_phase) > 0.6] = lay.pattern_rgb
    elif pattern == "spotted":
        p = lay.spot_period
        su = (u / p) % 1.0 - 0.5
        sv = (v / p + 0.5 * np.floor(u / p)) % 1.0 - 0.5
        body[su * su + sv * sv < 0.2**2 * 1.6] = lay.pattern_rgb
    for patch in lay.patches:
        cu, cv, ru, rv, ang = _frame(kind, pose, patch.anchor)
        t = np.deg2rad(ang)
        lu, lv = patch.a * ru, patch.b * rv
        pu = cu + lu * np.cos(t) - lv * np.sin(t)
        pv = cv + lu * np.sin(t) + lv * np.cos(t)
        r_u, r_v = patch.radius, patch.radius * patch.aspect
        body[((u - pu) / r_u) ** 2 + ((v - pv) / r_v) ** 2 <= 1.0] = patch.rgb
