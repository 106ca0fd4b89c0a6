"""The methods compared in the paper's Table 2 and ablation (Sec. 3.2-3.3), as one table.

Each method is a personal prior (none, LIPE's editing-caption LoRA, or a DreamBooth LoRA trained on
the same photos and regularization set but with plain "a photo of a sks dog" captions) plus an
editor (NIMA, MasaCtrl-style mutual self-attention control, or diffusers' LEDITS++ pipeline):

===================  ====================  ============  ========================================
name                 prior                 editor        paper
===================  ====================  ============  ========================================
lipe                 editing captions      NIMA          LIPE (ours)
lipe-composite       editing captions      NIMA + pixel  LIPE with the app's "keep background
                                           composite     exactly" (not in the paper)
masactrl             none                  MasaCtrl      MasaCtrl [9] (source prompt inverted)
dreamctrl            DreamBooth captions   MasaCtrl      DreamCtrl (Sec. 3.2)
ledits               none                  LEDITS++      extra peer: diffusers'
                                                         LEditsPPPipelineStableDiffusionXL
lipe-nocaptions      DreamBooth captions   NIMA          ablation: w/o editing-oriented captions
lipe-nomask          editing captions      NIMA, no      ablation: w/o NIMA mask
                                           mask
nima-noprior         none                  NIMA          ablation: general prior (no LoRA)
nima-noprior-nomask  none                  NIMA, no      extra: neither prior nor mask
                                           mask
===================  ====================  ============  ========================================

Methods without a prior get the prompts with the identifier word removed (``sks`` means nothing to
the base model). All share the inversion settings (steps, guidance, skip) given by ``EditParams``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from ..errors import InputError
from ..models.loader import LoadedModel
from ..nima import EditParams, InversionCache, edit_image
from ..progress import CancelToken, ProgressCallback, ProgressReporter
from .ledits import LeditsParams, ledits_edit
from .masactrl import MasaCtrlParams, masactrl_edit

PRIOR_EDITING = "editing-captions"
PRIOR_DREAMBOOTH = "dreambooth"


@dataclass(frozen=True)
class Method:
    name: str
    label: str  # row name in the table
    prior: str | None  # None, PRIOR_EDITING or PRIOR_DREAMBOOTH
    editor: str  # "nima", "masactrl" or "ledits"
    use_mask: bool = True
    composite: bool = False  # NIMA only: paste the edit into the original photo's pixels


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("lipe", "LIPE (ours)", PRIOR_EDITING, "nima"),
        Method("lipe-composite", "LIPE + pixel composite", PRIOR_EDITING, "nima", composite=True),
        Method("masactrl", "MasaCtrl", None, "masactrl"),
        Method("dreamctrl", "DreamCtrl", PRIOR_DREAMBOOTH, "masactrl"),
        Method("ledits", "LEDITS++ (diffusers)", None, "ledits"),
        Method("lipe-nocaptions", "LIPE w/o editing captions", PRIOR_DREAMBOOTH, "nima"),
        Method("lipe-nomask", "LIPE w/o NIMA mask", PRIOR_EDITING, "nima", use_mask=False),
        Method("nima-noprior", "General prior (no LoRA) + NIMA", None, "nima"),
        Method("nima-noprior-nomask", "General prior, no mask", None, "nima", use_mask=False),
    )
}
# the paper's Table 2 peers and its ablation (Sec. 3.3), plus LEDITS++ and the composite
DEFAULT_METHODS = ("lipe", "lipe-composite", "masactrl", "dreamctrl", "ledits", "lipe-nocaptions",
                   "lipe-nomask", "nima-noprior")


def parse_methods(text: str | Sequence[str]) -> list[Method]:
    """'lipe,masactrl' (or a list) -> methods, in the given order, duplicates dropped."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise InputError("no methods given", f"use some of {', '.join(METHODS)}")
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise InputError(f"unknown method '{unknown[0]}'", f"use some of {', '.join(METHODS)}")
    return [METHODS[n] for n in dict.fromkeys(names)]


def run_method(
    method: Method,
    model: LoadedModel,
    image: str | os.PathLike[str] | Image.Image,
    source_prompt: str,
    target_prompts: list[str],
    identity_prompt: str,
    edit_params: EditParams,
    masactrl: MasaCtrlParams = MasaCtrlParams(),
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    cache: InversionCache | None = None,
    ledits: LeditsParams = LeditsParams(),
) -> list[Image.Image]:
    """Edit ``image`` toward each target prompt with ``method`` on ``model`` (prior already loaded).

    MasaCtrl and LEDITS++ take the steps, skip, source guidance and inversion seed of
    ``edit_params`` (MasaCtrl its target guidance too) so every method starts from the same
    inversion settings.
    """
    p = edit_params
    if method.editor == "ledits":
        lp = dataclasses.replace(ledits, steps=p.steps, skip=p.skip, cfg_source=p.cfg_source,
                                 inversion_seed=p.inversion_seed)
        return ledits_edit(model, image, source_prompt, target_prompts, lp, progress, cancel).images
    if method.editor == "masactrl":
        mp = dataclasses.replace(masactrl, steps=p.steps, cfg_source=p.cfg_source, cfg_target=p.cfg_target,
                                 skip=p.skip, inversion_seed=p.inversion_seed)
        return masactrl_edit(model, image, source_prompt, target_prompts, mp, progress, cancel).images
    params = dataclasses.replace(p, use_mask=method.use_mask, composite=method.composite, seeds=(None,))
    res = edit_image(model, image, source_prompt, target_prompts, identity_prompt, params,
                     progress, cancel, cache)
    return list(res.images)
