"""Toy world: procedural sprite photos with captions and masks, and the tiny model trained on them.

The shipped toy model (``resources/toy_model/``) is an SDXL-architecture diffusers folder trained
on this world by ``scripts/train_toy_model.py``; :func:`default_model_source` is the model the app
and CLI use when no other is configured.
"""

from __future__ import annotations

from ..locations import toy_model_dir
from .backgrounds import SETTINGS, render_background
from .sprites import POSES
from .world import KINDS, SIZE, WORDS, Individual, Scene, random_scene, scene_from_seed

TOY_MODEL_DIR = toy_model_dir()

# NIMA settings for the toy model, shipped in its folder as lipe_edit_defaults.json (written by
# scripts/train_toy_model.py's export) so the app, CLI, demo and ablation all use them. SDXL's default
# attention grid (latent/4) is 8x8 cells on a 64 px photo: too coarse for a sprite (mask IoU ~0.5,
# and parts of the old pose left outside the mask came back from the inverted latents); latent/2
# gives 16x16 cells, like SDXL's 32x32 at 1024 px relative to the subject. Threshold 0.4 (of the
# min-max normalised map): 0.5 fits the sprite more tightly but leaves the new pose too little room
# (18 edits, 3 individuals: pose reached 56% vs 83%); no dilation: one cell is 4 px of a small sprite.
# 30 steps, skip 3: what the demo and the behavioural tests use. The v2 model (shipped since
# session 6) has a full-resolution latent (64x64) and attention only at latent/4 and /8: it records
# at latent/4, the same 16x16 cells of 4 px (its lipe_edit_defaults.json says so too).
TOY_EDIT_PARAMS: dict[str, float | int] = {
    "steps": 30, "skip": 3, "mask_threshold": 0.4, "mask_dilate": 0, "record_downsample": 4,
}


def default_model_source() -> str:
    """Path of the shipped toy model folder (used when no model is configured)."""
    return str(toy_model_dir())


__all__ = [
    "KINDS", "POSES", "SETTINGS", "SIZE", "TOY_EDIT_PARAMS", "TOY_MODEL_DIR", "WORDS", "Individual", "Scene",
    "default_model_source", "random_scene", "render_background", "scene_from_seed",
]
