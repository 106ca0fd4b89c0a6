"""The toy world: sprite individuals in poses on textured backgrounds, with captions and masks.

A :class:`Scene` fully determines one 64x64 photo, its ground-truth sprite mask and its caption in
the captioner's style ("perspective style, subject action view, setting"), e.g. "close-up photo,
a red dog sitting facing left, on green grass": like a caption of a real pet it names the colour
family and kind, never the individual's markings (world v2). Everything is deterministic from seeds.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from ..models.tokenizer_files import DEFAULT_WORDS
from . import markings, shapes, sprites
from .backgrounds import SETTINGS, render_background
from .markings import COLOURS

SIZE = 64
SUPERSAMPLE = 2
KINDS: tuple[str, ...] = tuple(sprites.POSES)
PATTERNS: tuple[str, ...] = ("plain", "striped", "spotted")
FACINGS: tuple[str, ...] = ("left", "right")
STYLES: tuple[str, ...] = ("photo", "picture")
ACTION_PHRASE = {"arms up": "with arms up"}
EXTRA_WORDS = ["close", "wide", "striped", "spotted", "plain", "orange", "purple", "grey", "pink", "flying", "lying", "with", "arms", "up", "sks", "park", "beach", "room", "the"]
#: Every word a toy-world caption or demo prompt can use; the toy model's tokenizers are built from it.
WORDS: tuple[str, ...] = tuple(dict.fromkeys([*DEFAULT_WORDS, *EXTRA_WORDS, *COLOURS, *KINDS]))


@dataclass(frozen=True)
class Individual:
    """One sprite individual: its class, the colour family a caption names, and what no caption says.

    ``colour`` is the body's colour family ("red"); the body itself is that family's reference
    colour plus ``tint`` (continuous, still nearest to the family). ``pattern`` (plain, striped,
    spotted), the pattern and accent colour families and the ``layout`` seed (patch positions, sizes
    and colours, stripe period and phase, accent tint: :mod:`.markings`) make it unique.
    """

    kind: str
    colour: str
    pattern: str
    pattern_colour: str
    accent_colour: str
    shade: float = 0.0  # brightness offset of the whole sprite
    tint: tuple[float, float, float] = (0.0, 0.0, 0.0)
    layout: int = 0

    @classmethod
    def random(cls, rng: np.random.Generator, kind: str | None = None) -> Individual:
        names = list(COLOURS)
        colour, pattern_colour, accent = rng.choice(len(names), size=3, replace=False)
        shade = float(rng.uniform(-0.04, 0.04))
        return cls(
            kind=kind or KINDS[int(rng.integers(len(KINDS)))],
            colour=names[colour],
            pattern=PATTERNS[int(rng.integers(len(PATTERNS)))],
            pattern_colour=names[pattern_colour],
            accent_colour=names[accent],
            shade=shade,
            tint=markings.draw_tint(rng, names[colour], shade),
            layout=int(rng.integers(2**31)),
        )

    @property
    def description(self) -> str:
        """How a captioner names it: colour family and kind only ("red dog"); markings go unsaid."""
        return f"{self.colour} {self.kind}"

    def rgb(self, name: str) -> np.ndarray:
        """A named family's reference colour with this individual's shade."""
        return np.clip(np.array(COLOURS[name], dtype=np.float32) + self.shade, 0, 1)

    @property
    def body_rgb(self) -> np.ndarray:
        base = np.array(COLOURS[self.colour], dtype=np.float32) + np.array(self.tint, dtype=np.float32)
        return np.clip(base + self.shade, 0, 1)

    @property
    def marking_layout(self) -> markings.Layout:
        return markings.layout(self.layout, self.colour, self.pattern_colour, self.accent_colour)


@dataclass(frozen=True)
class Scene:
    individual: Individual
    pose: str
    facing: str
    setting: str
    bg_seed: int
    cx: float  # sprite anchor (ground contact centre), pixels
    gy: float
    scale: float  # pixels per sprite unit
    style: str = "photo"

    @property
    def perspective(self) -> str:
        return "close-up" if self.scale >= 15.0 else "wide"

    def action(self, pose: str | None = None) -> str:
        pose = pose or self.pose
        return ACTION_PHRASE.get(pose, pose)

    def caption(self) -> str:
        """Ground-truth caption in the captioner's style."""
        desc = self.individual.description
        article = "an" if desc[0] in "aeiou" else "a"
        return (f"{self.perspective} {self.style}, {article} {desc} {self.action()} "
                f"facing {self.facing}, {self.setting}")

    def with_pose(self, pose: str, facing: str | None = None) -> Scene:
        return replace(self, pose=pose, facing=facing or self.facing)

    def render(self) -> tuple[Image.Image, np.ndarray]:
        """(RGB image, ground-truth sprite mask (SIZE, SIZE) float32 in [0, 1])."""
        rgb, mask = self.render_arrays()
        return Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)), mask

    def render_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        bg, _ = render_background(self.setting, self.bg_seed, SIZE, SIZE)
        ss = SUPERSAMPLE
        ys, xs = shapes.grid(SIZE * ss, SIZE * ss)
        facing = 1 if self.facing == "right" else -1
        layers = sprites.draw(ys, xs, self.individual.kind, self.pose, self.cx * ss, self.gy * ss,
                              self.scale * ss, facing)
        ind = self.individual
        body = np.broadcast_to(ind.body_rgb, (*ys.shape, 3)).copy()
        u = (xs - self.cx * ss) * facing / (self.scale * ss)
        v = (self.gy * ss - ys) / (self.scale * ss)
        lay = ind.marking_layout
        markings.paint_body(body, u, v, ind.kind, self.pose, ind.pattern, lay)
        accent = np.clip(np.array(lay.accent_rgb, dtype=np.float32) + ind.shade, 0, 1)
        sprite = (body * layers["body"][..., None]
                  + accent * layers["accent"][..., None]
                  + np.array([0.05, 0.05, 0.06], dtype=np.float32) * layers["dark"][..., None])
        cover = shapes.downsample(layers["mask"], ss)
        colour = shapes.downsample(sprite, ss)
        out = bg * (1 - cover[..., None]) + colour
        return np.clip(out, 0, 1).astype(np.float32), cover.astype(np.float32)


def random_scene(rng: np.random.Generator, individual: Individual | None = None, pose: str | None = None,
                 facing: str | None = None, setting: str | None = None) -> Scene:
    """A random scene; any of individual/pose/facing/setting can be pinned."""
    ind = individual or Individual.random(rng)
    setting = setting or SETTINGS[int(rng.integers(len(SETTINGS)))]
    bg_seed = int(rng.integers(2**31))
    _, horizon = render_background(setting, bg_seed, SIZE, SIZE)
    scale = float(rng.uniform(12.5, 17.5))
    gy = float(rng.uniform(max(horizon + 14, SIZE - 14), SIZE - 3))
    cx = float(rng.uniform(SIZE / 2 - 8, SIZE / 2 + 8))
    return Scene(
        individual=ind,
        pose=pose or sprites.POSES[ind.kind][int(rng.integers(3))],
        facing=facing or FACINGS[int(rng.integers(2))],
        setting=setting,
        bg_seed=bg_seed,
        cx=cx,
        gy=gy,
        scale=scale,
        style=STYLES[int(rng.integers(len(STYLES)))],
    )


def scene_from_seed(seed: int) -> Scene:
    return random_scene(np.random.default_rng(seed))


def held_out_of_training(scene: Scene) -> bool:
    """True for the (kind, colour family, pose, facing, setting) combinations the toy model never sees
    in training (about 1 in 12): the quality benchmark's text-to-image prompts are drawn from these,
    so a sample that reads right shows the model composing words, not recalling a caption."""
    key = f"{scene.individual.kind}|{scene.individual.colour}|{scene.pose}|{scene.facing}|{scene.setting}"
    return zlib.crc32(key.encode()) % 12 == 0
