"""Toy world: procedural sprite photos with captions and masks, and the tiny model trained on them.

The shipped toy model (``resources/toy_model/``) is an SDXL-architecture diffusers folder trained
on this world by ``scripts/train_toy_model.py``; :func:`default_model_source` is the model the app
and CLI use when no other is configured.
"""

from __future__ import annotations

from pathlib import Path

from .backgrounds import SETTINGS, render_background
from .sprites import POSES
from .world import KINDS, SIZE, WORDS, Individual, Scene, random_scene, scene_from_seed

TOY_MODEL_DIR = Path(__file__).resolve().parents[2] / "resources" / "toy_model"

# NIMA settings for the toy model. Its identity attention is less peaked than SDXL's (64 px photos,
# 2-layer text encoders), so the subject stands out at a higher threshold of the min-max normalised
# map, and dilating by one attention cell (4 px of 64) would swallow a small sprite's surroundings.
TOY_EDIT_PARAMS: dict[str, float | int] = {"mask_threshold": 0.6, "mask_dilate": 0}


def default_model_source() -> str:
    """Path of the shipped toy model folder (used when no model is configured)."""
    return str(TOY_MODEL_DIR)


__all__ = [
    "KINDS", "POSES", "SETTINGS", "SIZE", "TOY_EDIT_PARAMS", "TOY_MODEL_DIR", "WORDS", "Individual", "Scene",
    "default_model_source", "random_scene", "render_background", "scene_from_seed",
]
