"""NIMA editing: edit-friendly DDPM inversion, identity-aware attention masks, inverted-latent blend.

Public API: :func:`edit_image`, :class:`EditParams`, :class:`EditResult`, :class:`NimaSession`,
:class:`InversionCache`, :func:`edit_params_for` (the settings a model ships with). Lower-level
pieces for baselines: :mod:`.inversion` (``invert_ddpm``,
``sample_ddpm``, ``make_schedule``), :mod:`.denoiser` (``Denoiser``), :mod:`.attention`.
"""

from .cache import InversionCache
from .defaults import edit_params_for, model_edit_defaults
from .editor import EditParams, EditResult, NimaSession, edit_image

__all__ = ["EditParams", "EditResult", "InversionCache", "NimaSession", "edit_image", "edit_params_for",
           "model_edit_defaults"]
