"""Baselines run inside the same engine as LIPE (same data, model and inversion): MasaCtrl-style
mutual self-attention control, DreamCtrl (DreamBooth prior + MasaCtrl) and LIPE's ablations; the
method table lives in :mod:`lipe_engine.baselines.methods`."""

from .masactrl import MasaCtrlParams, MasaCtrlResult, masactrl_edit

__all__ = ["MasaCtrlParams", "MasaCtrlResult", "masactrl_edit"]
