"""Quality gate of a toy-world model: does it draw its world, and does its VAE keep the individual?

- :func:`vae_round_trip`: PSNR (dB) of held-out world photos encoded and decoded by the model's VAE,
  over the photo and over the sprite (its ground-truth mask). Gate: >= 32 dB and >= 28 dB.
- :func:`text_to_image`: samples drawn by the model's own SDXL pipeline from captions of scenes the
  training never saw (:func:`~.world.held_out_of_training`), each read by :func:`~.reading.read_picture`
  (kind, pose, facing, colour family). Gate: all four right in >= 90% of samples. The reader's own
  accuracy on the true renders of the same captions is reported beside it: the ceiling it can show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..models.loader import LoadedModel
from ..models.vae import decode_latents, encode_pixels
from .checks import to_float
from .judge import default_judge
from .judge_nets import UNCLEAR as JUDGE_UNCLEAR
from .reading import UNCLEAR, Reading, estimate_background, read_picture
from .world import FACINGS, Scene, held_out_of_training, scene_from_seed

VAE_PHOTO_DB = 32.0
VAE_SUBJECT_DB = 28.0
TEXT_TO_IMAGE_RATE = 0.90
HELD_OUT_PHOTO_SEED = 990_000  # photos for the VAE (the training pool draws its own random scenes)
HELD_OUT_PROMPT_SEED = 880_000  # scenes whose captions are the text-to-image prompts


@dataclass
class RoundTrip:
    photo_db: list[float] = field(default_factory=list)
    subject_db: list[float] = field(default_factory=list)


def _psnr(err: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(err.mean()), 1e-12)))


@torch.no_grad()
def vae_round_trip(vae: Any, n: int = 40, seed: int = HELD_OUT_PHOTO_SEED) -> RoundTrip:
    """Encode (latent mean) and decode ``n`` held-out world photos with ``vae`` (a diffusers
    AutoencoderKL); PSNR per photo and per sprite."""
    out = RoundTrip()
    for k in range(n):
        rgb, mask = scene_from_seed(seed + k).render_arrays()
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None] * 2 - 1
        rec = decode_latents(vae, encode_pixels(vae, x)).clamp(-1, 1)
        back = (rec[0].permute(1, 2, 0).cpu().numpy() + 1) / 2
        err = (back - rgb) ** 2
        out.photo_db.append(_psnr(err))
        out.subject_db.append(_psnr(err[mask > 0.5]))
    return out


def held_out_scenes(n: int, seed: int = HELD_OUT_PROMPT_SEED) -> list[Scene]:
    """The first ``n`` scenes from ``seed`` on whose (kind, colour, pose, facing, setting) training skips."""
    scenes: list[Scene] = []
    s = seed
    while len(scenes) < n:
        scene = scene_from_seed(s)
        if held_out_of_training(scene):
            scenes.append(scene)
        s += 1
    return scenes


def right(reading: Reading, scene: Scene) -> bool:
    return reading.matches(scene.individual.kind, scene.pose, scene.facing, scene.individual.colour)


@torch.no_grad()
def judge_readings(images: list) -> list[Reading]:
    """The judge's pose and facing networks (:mod:`.judge`) on samples, with each row's median colour as
    the background it needs (:func:`~.reading.estimate_background`): kind, pose and facing from the
    judge, the colour family from the reader (the judge has no colour head)."""
    judge = default_judge()
    arrays = [to_float(im)[..., :3].astype(np.float32) for im in images]
    photos = torch.stack([torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in arrays])
    backgrounds = torch.stack([torch.from_numpy(np.ascontiguousarray(estimate_background(a))).permute(2, 0, 1)
                               for a in arrays])
    pose_logits, facing_logits = judge.read_pose(photos, backgrounds)
    probs = torch.softmax(pose_logits, dim=1)
    out = []
    for i, image in enumerate(images):
        colour = read_picture(image).colour
        name = judge.config.pose_classes[int(probs[i].argmax())]
        if name == JUDGE_UNCLEAR:
            out.append(Reading(UNCLEAR, UNCLEAR, UNCLEAR, colour, float(probs[i].max())))
            continue
        kind, pose = name.split("/", 1)
        out.append(Reading(kind, pose, FACINGS[int(facing_logits[i].argmax())], colour, float(probs[i].max())))
    return out


@dataclass
class Samples:
    scenes: list[Scene]
    images: list  # PIL images, one per scene
    readings: list[Reading]

    def rate(self, attr: str | None = None) -> float:
        if attr is None:
            hits = [right(r, s) for r, s in zip(self.readings, self.scenes, strict=True)]
        else:
            truth = {"kind": lambda s: s.individual.kind, "pose": lambda s: s.pose,
                     "facing": lambda s: s.facing, "colour": lambda s: s.individual.colour}[attr]
            hits = [getattr(r, attr) == truth(s) for r, s in zip(self.readings, self.scenes, strict=True)]
        return float(np.mean(hits)) if hits else float("nan")


@torch.no_grad()
def text_to_image(model: LoadedModel, scenes: list[Scene], steps: int = 30, guidance: float = 5.0,
                  seed: int = 0, batch: int = 8) -> Samples:
    """One sample per scene's caption (seed ``seed + index``) through the model's SDXL pipeline."""
    pipe = model.pipe
    size = model.native_size
    images = []
    for i in range(0, len(scenes), batch):
        chunk = scenes[i:i + batch]
        gens = [torch.Generator().manual_seed(seed + i + j) for j in range(len(chunk))]
        images += pipe([s.caption() for s in chunk], num_inference_steps=steps, guidance_scale=guidance,
                       height=size, width=size, generator=gens).images
    return Samples(scenes, images, [read_picture(im) for im in images])


def reader_ceiling(scenes: list[Scene]) -> Samples:
    """The reader on the true renders of ``scenes``: how often it reads a perfect drawing right."""
    images = [s.render()[0] for s in scenes]
    return Samples(scenes, images, [read_picture(im) for im in images])
