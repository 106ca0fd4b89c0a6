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


def default_model_source() -> str:
    """Path of the shipped toy model folder (used when no model is configured)."""
    return str(TOY_MODEL_DIR)


__all__ = [
    "KINDS", "POSES", "SETTINGS", "SIZE", "TOY_MODEL_DIR", "WORDS", "Individual", "Scene",
    "default_model_source", "random_scene", "render_background", "scene_from_seed",
]
