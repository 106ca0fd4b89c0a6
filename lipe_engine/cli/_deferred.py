# ruff: noqa: F401 - the names imported for type checking are this module's attributes (see WHERE)
"""The engine parts the commands load late: the CLI's one deferred import.

``lipe --help`` answers in a tenth of a second and most commands' help in a few tenths; these parts
import torch, diffusers or transformers (seconds) or, for the dispatcher, the library (numpy, PIL).
A command module imports this module at its top (``from . import _deferred``) and calls
``_deferred.edit_image(...)``: the name's module is imported on first use, so readers, mypy and
import-graph tools still see every dependency below, in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..late_imports import module_getattr, table

if TYPE_CHECKING:
    import torch
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    from ..baselines.ledits import LeditsParams
    from ..baselines.masactrl import MasaCtrlParams
    from ..baselines.methods import DEFAULT_METHODS, METHODS, parse_methods
    from ..doctor import require_tested_stack
    from ..editing.run import redo_version, run_and_save
    from ..evaluation.runner import EvalConfig, Evaluation
    from ..evaluation.toy_dataset import make_toy_dataset
    from ..library.db import not_damaged_error
    from ..metrics import Scorer
    from ..models.loader import load_lora, load_sdxl
    from ..nima import EditParams, InversionCache, edit_image, edit_params_for
    from ..nima.outputs import IMAGE_FORMATS, mask_image, mask_paths, output_paths, write_edit_files
    from ..toyworld.checks import iou, masked_psnr, resize_mask
    from ..toyworld.judge import judge_edit
    from ..training import PRESETS, TrainingConfig, train_identity_lora
    from ..training.trainer import claim_output



# The same names at run time, by the module that holds them (relative to lipe_engine.cli); a test
# (tests/engine/test_late_imports.py) checks that this table and the block above agree.
_NAMES: dict[str, tuple[str, ...]] = {
    "..baselines.ledits": ("LeditsParams",),
    "..baselines.masactrl": ("MasaCtrlParams",),
    "..baselines.methods": ("DEFAULT_METHODS", "METHODS", "parse_methods"),
    "..doctor": ("require_tested_stack",),
    "..editing.run": ("redo_version", "run_and_save"),
    "..evaluation.runner": ("EvalConfig", "Evaluation"),
    "..evaluation.toy_dataset": ("make_toy_dataset",),
    "..library.db": ("not_damaged_error",),
    "..metrics": ("Scorer",),
    "..models.loader": ("load_lora", "load_sdxl"),
    "..nima": ("EditParams", "InversionCache", "edit_image", "edit_params_for"),
    "..nima.outputs": ("IMAGE_FORMATS", "mask_image", "mask_paths", "output_paths", "write_edit_files"),
    "..toyworld.checks": ("iou", "masked_psnr", "resize_mask"),
    "..toyworld.judge": ("judge_edit",),
    "..training": ("PRESETS", "TrainingConfig", "train_identity_lora"),
    "..training.trainer": ("claim_output",),
}
_MODULES = {"torch": "torch", "diffusers_logging": "diffusers.utils.logging",
            "transformers_logging": "transformers.utils.logging"}
WHERE = table(_NAMES, _MODULES)
__getattr__ = module_getattr(__name__, __package__, WHERE)
