"""Sprite geometry: each class and pose is a list of parts in sprite units, drawn in painter's order.

Sprite units: ``u`` points the way the sprite faces (mirrored for "facing left"), ``v`` points up
from the ground contact point; one unit is ``scale`` pixels. A part is (kind, shape, params):
kind "body" takes the individual's body colour and pattern, "accent" its accent colour, "dark"
is near-black (eyes, legs of birds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import shapes

Part = tuple[str, str, tuple[float, ...]]

# Poses each class can take (the caption's action phrase).
POSES: dict[str, tuple[str, ...]] = {
    "dog": ("standing", "sitting", "lying"),
    "bird": ("standing", "flying", "sitting"),
    "robot": ("standing", "arms up", "sitting"),
}


# Index (in :func:`parts`) of each pose's torso and head: the parts an individual's patches sit on,
# so that markings move with the body from pose to pose.
ANCHOR_PARTS: dict[str, dict[str, tuple[int, int]]] = {
    "dog": {"standing": (5, 6), "sitting": (1, 5), "lying": (1, 3)},
    "bird": {"standing": (3, 4), "flying": (2, 3), "sitting": (1, 2)},
    "robot": {"standing": (4, 7), "arms up": (4, 7), "sitting": (2, 6)},
}


def _dog(pose: str) -> list[Part]:
    if pose == "standing":
        return [
            ("body", "capsule", (-0.6, 1.1, -0.95, 1.55, 0.1)),  # tail
            ("body", "capsule", (-0.45, 0.8, -0.5, 0.05, 0.13)),
            ("body", "capsule", (-0.3, 0.8, -0.3, 0.05, 0.13)),
            ("body", "capsule", (0.35, 0.8, 0.35, 0.05, 0.13)),
            ("body", "capsule", (0.5, 0.8, 0.55, 0.05, 0.13)),
            ("body", "ellipse", (0.0, 1.0, 0.72, 0.34, 0.0)),
            ("body", "ellipse", (0.75, 1.45, 0.3, 0.3, 0.0)),
            ("body", "ellipse", (1.02, 1.36, 0.2, 0.13, 0.0)),
            ("accent", "capsule", (0.66, 1.68, 0.56, 1.35, 0.1)),  # ear
            ("dark", "ellipse", (0.86, 1.52, 0.06, 0.06, 0.0)),
            ("dark", "ellipse", (1.2, 1.38, 0.05, 0.05, 0.0)),
        ]
    if pose == "sitting":
        return [
            ("body", "capsule", (-0.5, 0.12, -1.0, 0.1, 0.1)),
            ("body", "ellipse", (-0.15, 0.8, 0.42, 0.62, -20.0)),
            ("body", "ellipse", (-0.2, 0.3, 0.45, 0.28, 0.0)),
            ("body", "capsule", (0.2, 0.95, 0.3, 0.05, 0.13)),
            ("body", "capsule", (0.05, 0.9, 0.12, 0.05, 0.13)),
            ("body", "ellipse", (0.35, 1.6, 0.3, 0.3, 0.0)),
            ("body", "ellipse", (0.62, 1.5, 0.2, 0.13, 0.0)),
            ("accent", "capsule", (0.26, 1.84, 0.16, 1.5, 0.1)),
            ("dark", "ellipse", (0.46, 1.67, 0.06, 0.06, 0.0)),
            ("dark", "ellipse", (0.8, 1.52, 0.05, 0.05, 0.0)),
        ]
    # lying
    return [
        ("body", "capsule", (-0.7, 0.3, -1.1, 0.15, 0.1)),
        ("body", "ellipse", (-0.05, 0.33, 0.75, 0.3, 0.0)),
        ("body", "capsule", (0.4, 0.12, 1.05, 0.1, 0.11)),
        ("body", "ellipse", (0.72, 0.8, 0.3, 0.3, 0.0)),
        ("body", "ellipse", (0.99, 0.7, 0.2, 0.13, 0.0)),
        ("accent", "capsule", (0.62, 1.03, 0.52, 0.7, 0.1)),
        ("dark", "ellipse", (0.83, 0.87, 0.06, 0.06, 0.0)),
        ("dark", "ellipse", (1.17, 0.72, 0.05, 0.05, 0.0)),
    ]


def _bird(pose: str) -> list[Part]:
    if pose == "standing":
        return [
            ("dark", "capsule", (0.08, 0.6, 0.05, 0.03, 0.06)),
            ("dark", "capsule", (-0.12, 0.6, -0.15, 0.03, 0.06)),
            ("body", "capsule", (-0.4, 0.85, -0.9, 0.6, 0.12)),
            ("body", "ellipse", (0.0, 0.98, 0.55, 0.4, 20.0)),
            ("body", "ellipse", (0.45, 1.5, 0.27, 0.27, 0.0)),
            ("accent", "triangle", (0.66, 1.58, 1.0, 1.48, 0.66, 1.38)),
            ("accent", "ellipse", (-0.1, 1.0, 0.36, 0.2, 20.0)),
            ("dark", "ellipse", (0.52, 1.56, 0.06, 0.06, 0.0)),
        ]
    if pose == "flying":
        return [
            ("accent", "ellipse", (0.05, 1.55, 0.2, 0.55, 25.0)),  # far wing
            ("body", "capsule", (-0.45, 1.05, -0.95, 1.2, 0.12)),
            ("body", "ellipse", (0.0, 1.1, 0.58, 0.3, 0.0)),
            ("body", "ellipse", (0.6, 1.32, 0.26, 0.26, 0.0)),
            ("accent", "triangle", (0.8, 1.4, 1.12, 1.3, 0.8, 1.2)),
            ("accent", "ellipse", (-0.15, 1.6, 0.2, 0.6, 30.0)),
            ("dark", "ellipse", (0.67, 1.38, 0.06, 0.06, 0.0)),
        ]
    # sitting (perched low, no legs)
    return [
        ("body", "capsule", (-0.45, 0.3, -0.95, 0.1, 0.12)),
        ("body", "ellipse", (0.0, 0.42, 0.58, 0.4, 0.0)),
        ("body", "ellipse", (0.42, 0.95, 0.27, 0.27, 0.0)),
        ("accent", "triangle", (0.63, 1.03, 0.97, 0.93, 0.63, 0.83)),
        ("accent", "ellipse", (-0.12, 0.45, 0.38, 0.2, 0.0)),
        ("dark", "ellipse", (0.49, 1.01, 0.06, 0.06, 0.0)),
    ]


def _shift(part: Part, dv: float) -> Part:
    """Move a rect/ellipse/capsule part up by ``dv`` units."""
    kind, shape, p = part
    if shape == "capsule":
        return kind, shape, (p[0], p[1] + dv, p[2], p[3] + dv, p[4])
    return kind, shape, (p[0], p[1] + dv, *p[2:])


def _robot(pose: str) -> list[Part]:
    head = [
        ("accent", "capsule", (0.0, 1.85, 0.0, 2.05, 0.05)),
        ("accent", "ellipse", (0.0, 2.08, 0.08, 0.08, 0.0)),
        ("body", "rect", (0.03, 1.65, 0.3, 0.22)),
        ("dark", "rect", (0.17, 1.68, 0.1, 0.06)),
    ]
    if pose == "sitting":
        return [
            ("accent", "capsule", (-0.15, 0.3, 0.55, 0.25, 0.12)),
            ("accent", "capsule", (0.55, 0.25, 0.6, 0.03, 0.12)),
            ("body", "rect", (0.0, 0.75, 0.38, 0.42)),
            ("accent", "capsule", (0.05, 1.05, 0.35, 0.75, 0.1)),
        ] + [_shift(part, -0.55) for part in head]
    legs = [
        ("accent", "capsule", (-0.2, 0.6, -0.2, 0.03, 0.12)),
        ("accent", "capsule", (0.2, 0.6, 0.2, 0.03, 0.12)),
    ]
    if pose == "arms up":
        arms = [
            ("accent", "capsule", (-0.45, 1.3, -0.62, 1.95, 0.1)),
            ("accent", "capsule", (0.45, 1.3, 0.62, 1.95, 0.1)),
        ]
    else:
        arms = [
            ("accent", "capsule", (-0.45, 1.3, -0.52, 0.7, 0.1)),
            ("accent", "capsule", (0.45, 1.3, 0.52, 0.7, 0.1)),
        ]
    return legs + arms + [("body", "rect", (0.0, 1.05, 0.38, 0.42))] + head


def parts(kind: str, pose: str) -> list[Part]:
    if kind not in POSES or pose not in POSES[kind]:
        raise ValueError(f"unknown sprite {kind!r} pose {pose!r}")
    return {"dog": _dog, "bird": _bird, "robot": _robot}[kind](pose)


def draw(ys: np.ndarray, xs: np.ndarray, kind: str, pose: str, cx: float, gy: float, scale: float,
         facing: int) -> dict[str, np.ndarray]:
    """Coverage layers {"body", "accent", "dark"} (later parts overwrite earlier ones) and "mask"."""
    h, w = ys.shape
    label = np.zeros((h, w), dtype=np.int8)  # 0 none, 1 body, 2 accent, 3 dark
    codes = {"body": 1, "accent": 2, "dark": 3}

    def px(u: float, v: float) -> tuple[float, float]:
        return gy - v * scale, cx + facing * u * scale

    for part_kind, shape, p in parts(kind, pose):
        cov: Any
        if shape == "ellipse":
            y, x = px(p[0], p[1])
            cov = shapes.ellipse(ys, xs, y, x, p[3] * scale, p[2] * scale, -facing * p[4])
        elif shape == "capsule":
            y0, x0 = px(p[0], p[1])
            y1, x1 = px(p[2], p[3])
            cov = shapes.capsule(ys, xs, y0, x0, y1, x1, p[4] * scale)
        elif shape == "rect":
            y, x = px(p[0], p[1])
            cov = shapes.rect(ys, xs, y, x, p[3] * scale, p[2] * scale)
        else:
            pts = [px(p[i], p[i + 1]) for i in (0, 2, 4)]
            cov = shapes.triangle(ys, xs, pts)
        label[cov > 0] = codes[part_kind]
    return {name: (label == code).astype(np.float32) for name, code in codes.items()} | {
        "mask": (label > 0).astype(np.float32)
    }
