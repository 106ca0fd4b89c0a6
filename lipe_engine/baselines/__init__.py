"""Baselines run on the same loaded model, photo, prompts and steps as LIPE: MasaCtrl-style mutual
self-attention control, DreamCtrl (DreamBooth prior + MasaCtrl), LEDITS++ through diffusers' own
pipeline, and LIPE's ablations; the method table lives in :mod:`lipe_engine.baselines.methods`."""

from .ledits import LeditsParams, LeditsResult, ledits_edit
from .masactrl import MasaCtrlParams, MasaCtrlResult, masactrl_edit

__all__ = ["LeditsParams", "LeditsResult", "MasaCtrlParams", "MasaCtrlResult", "ledits_edit", "masactrl_edit"]
